package i18n

// The sweep's section of the needs-attention page, named after the
// products that sweep (product.Sweeper): with COL alone, worded as before.
func init() {
	extend(EN, map[string]string{
		"at.sweep_title_of": "%s sweep: NeoX's refund list against the desk",
		"at.sweep_off_of":   "The %s sweep is off (%s not configured, or COL_SWEEP_INTERVAL=0).",
	})
	extend(VI, map[string]string{
		"at.sweep_title_of": "Đối soát %s: danh sách hoàn tiền của NeoX so với hệ thống",
		"at.sweep_off_of":   "Đối soát %s đang tắt (chưa cấu hình %s, hoặc COL_SWEEP_INTERVAL=0).",
	})
}
