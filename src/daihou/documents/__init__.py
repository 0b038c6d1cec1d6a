"""PDF documents in Chinese (还款提醒, 逾期通知书, 催收函, 结清证明, 还款计划协议,
诉讼证据材料): built from stored inputs, hashed into the audit chain, reproducible."""
