package i18n

// Messages of the money-movement controls' last steps (issue 17): a
// step-up answered with a security key, factors removed one by one, the
// step-up in force on the admins' pages.
func init() {
	extend(EN, map[string]string{
		"stepup.key_text":       "Approving this amount needs a fresh confirmation with your security key. Nothing is approved until it checks.",
		"stepup.or_key":         "Or confirm with your security key:",
		"stepup.key_use":        "Confirm with security key and approve",
		"stepup.key_refused":    "The security key's answer was not accepted (cancelled, timed out, already used or not this account's key). Nothing was approved. Try again.",
		"mfa.json_only":         "This address takes JSON from the desk's own script only.",
		"mfa.app_remove":        "Remove the authenticator app (your security keys stay)",
		"mfa.last_factor":       "This is your last second factor and your role requires one: add another security key or the authenticator app first. Nothing was removed. If you lost it, an administrator can reset it.",
		"stepup.admin_title":    "Step-up for large approvals",
		"stepup.admin_off":      "Off: no approval asks for a fresh second factor (STEPUP_LIMITS is not set).",
		"stepup.admin_on":       "Approving a refund above these amounts, alone or in bulk, asks the approver for a fresh code from their authenticator app or their security key. Other currencies never ask; amounts are never converted.",
		"stepup.admin_above":    "above %s",
		"stepup.admin_window":   "A second factor given in the last %d minutes (at sign-in or a previous step-up) counts as fresh.",
		"stepup.admin_window_s": "A second factor given in the last %d seconds (at sign-in or a previous step-up) counts as fresh.",
		"stepup.admin_every":    "Every large approval asks again (no window).",
		"stepup.admin_config":   "Set on the server with STEPUP_LIMITS and STEPUP_WINDOW; a change takes effect at the next start.",
	})
	extend(VI, map[string]string{
		"stepup.key_text":       "Duyệt số tiền này cần xác nhận lại bằng khóa bảo mật của bạn. Chưa có gì được duyệt cho đến khi xác nhận hợp lệ.",
		"stepup.or_key":         "Hoặc xác nhận bằng khóa bảo mật:",
		"stepup.key_use":        "Xác nhận bằng khóa bảo mật và duyệt",
		"stepup.key_refused":    "Phản hồi của khóa bảo mật không được chấp nhận (đã hủy, hết thời gian, đã dùng rồi hoặc không phải khóa của tài khoản này). Chưa có gì được duyệt. Hãy thử lại.",
		"mfa.json_only":         "Địa chỉ này chỉ nhận JSON từ script của chính hệ thống.",
		"mfa.app_remove":        "Gỡ ứng dụng xác thực (các khóa bảo mật vẫn giữ nguyên)",
		"mfa.last_factor":       "Đây là yếu tố xác thực thứ hai cuối cùng của bạn và vai trò của bạn bắt buộc phải có: hãy thêm một khóa bảo mật khác hoặc ứng dụng xác thực trước. Chưa có gì bị gỡ. Nếu bạn làm mất nó, quản trị viên có thể đặt lại.",
		"stepup.admin_title":    "Xác nhận lại khi duyệt khoản lớn",
		"stepup.admin_off":      "Tắt: không lần duyệt nào yêu cầu xác nhận lại bằng yếu tố thứ hai (chưa đặt STEPUP_LIMITS).",
		"stepup.admin_on":       "Duyệt một khoản hoàn tiền trên các mức này, riêng lẻ hay hàng loạt, sẽ yêu cầu người duyệt nhập mã mới từ ứng dụng xác thực hoặc dùng khóa bảo mật. Các loại tiền khác không bao giờ yêu cầu; số tiền không bao giờ được quy đổi.",
		"stepup.admin_above":    "trên %s",
		"stepup.admin_window":   "Yếu tố thứ hai đã xác nhận trong %d phút gần nhất (khi đăng nhập hoặc lần xác nhận lại trước) được coi là còn mới.",
		"stepup.admin_window_s": "Yếu tố thứ hai đã xác nhận trong %d giây gần nhất (khi đăng nhập hoặc lần xác nhận lại trước) được coi là còn mới.",
		"stepup.admin_every":    "Mỗi lần duyệt khoản lớn đều phải xác nhận lại (không có khoảng thời gian miễn).",
		"stepup.admin_config":   "Đặt trên máy chủ bằng STEPUP_LIMITS và STEPUP_WINDOW; thay đổi có hiệu lực từ lần khởi động sau.",
	})
}
