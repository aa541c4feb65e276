package i18n

// Messages of the background check of bulk refund files (issue 18): the
// progress of a batch being checked, its cancellation, their audit actions.
func init() {
	extend(EN, map[string]string{
		"bulkp.state_checking":  "Checking",
		"bulkp.state_cancelled": "Checking cancelled",
		"bulkp.checked":         "Checked %s of %s rows",
		"bulkp.hint":            "Every row is being checked against NeoX and the refunds already here; you can leave this page and come back. Totals and each row's result appear when every row is checked.",
		"bulkp.refresh":         "Refresh",
		"bulkp.see_results":     "See the results",
		"bulkp.cancel":          "Stop checking",
		"bulkp.cancel_confirm":  "Stop checking this file? Nothing of it can be submitted then; upload it again to check it anew.",
		"bulkp.cancelled_text":  "Checking this file was stopped before every row was checked: nothing of it can be submitted.",
		"bulkp.upload_again":    "Upload the file again",
		"bulkp.err_not_checked": "This file is not fully checked: wait until every row is checked, or upload it again if checking was stopped.",
		"act.batch.checked":     "Refund file checked",
		"act.batch.cancelled":   "Refund file check stopped",
	})
	extend(VI, map[string]string{
		"bulkp.state_checking":  "Đang kiểm tra",
		"bulkp.state_cancelled": "Đã dừng kiểm tra",
		"bulkp.checked":         "Đã kiểm tra %s trên %s dòng",
		"bulkp.hint":            "Từng dòng đang được kiểm tra với NeoX và các khoản hoàn tiền đã có ở đây; bạn có thể rời trang này và quay lại sau. Tổng tiền và kết quả từng dòng sẽ hiện khi mọi dòng đã được kiểm tra.",
		"bulkp.refresh":         "Làm mới",
		"bulkp.see_results":     "Xem kết quả",
		"bulkp.cancel":          "Dừng kiểm tra",
		"bulkp.cancel_confirm":  "Dừng kiểm tra tệp này? Khi đó không thể gửi dòng nào của tệp; hãy tải tệp lên lại để kiểm tra lại từ đầu.",
		"bulkp.cancelled_text":  "Việc kiểm tra tệp này đã bị dừng trước khi mọi dòng được kiểm tra: không thể gửi dòng nào của tệp.",
		"bulkp.upload_again":    "Tải tệp lên lại",
		"bulkp.err_not_checked": "Tệp này chưa được kiểm tra xong: hãy đợi đến khi mọi dòng được kiểm tra, hoặc tải tệp lên lại nếu việc kiểm tra đã bị dừng.",
		"act.batch.checked":     "Đã kiểm tra xong tệp hoàn tiền",
		"act.batch.cancelled":   "Đã dừng kiểm tra tệp hoàn tiền",
	})
}
