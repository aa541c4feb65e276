package i18n

// The refunds list's totals when a filter matches too many refunds to
// count on every page view (refunds.TotalsCap).
func init() {
	extend(EN, map[string]string{
		"rl.totals_capped": "More than %s refunds match: narrow the filter (dates, state, currency) to see their count and sum.",
	})
	extend(VI, map[string]string{
		"rl.totals_capped": "Có hơn %s khoản hoàn tiền khớp: hãy thu hẹp bộ lọc (ngày, trạng thái, tiền tệ) để xem số lượng và tổng tiền.",
	})
}
