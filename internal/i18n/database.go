package i18n

// Messages for the database not answering (PostgreSQL restarting, a
// failover): the request changed nothing and may be tried again.
func init() {
	extend(EN, map[string]string{
		"error.db_down_title": "The database is not answering",
		"error.db_down_text":  "Nothing was changed. The desk's database did not answer, usually because it is restarting; try again in a minute. If it goes on, tell your administrator.",
	})
	extend(VI, map[string]string{
		"error.db_down_title": "Cơ sở dữ liệu không phản hồi",
		"error.db_down_text":  "Chưa có gì thay đổi. Cơ sở dữ liệu của hệ thống không phản hồi, thường là do đang khởi động lại; vui lòng thử lại sau một phút. Nếu vẫn tiếp diễn, hãy báo cho quản trị viên.",
	})
}
