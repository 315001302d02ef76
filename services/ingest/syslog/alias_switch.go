// aliasOf mirrors the aliases table as a string switch (generated from it
// once); TestAliasOf fails when the two diverge.

package syslog

// aliasOf returns the alias entry of key k: a string switch, which is
// faster than a map lookup for this small fixed set.
func aliasOf(k string) (aliasRef, bool) {
	switch k {
	case "src":
		return aliasRef{fSrcIP, 0}, true
	case "src_ip":
		return aliasRef{fSrcIP, 1}, true
	case "srcip":
		return aliasRef{fSrcIP, 2}, true
	case "id.orig_h":
		return aliasRef{fSrcIP, 3}, true
	case "dst":
		return aliasRef{fDstIP, 0}, true
	case "dst_ip":
		return aliasRef{fDstIP, 1}, true
	case "dstip":
		return aliasRef{fDstIP, 2}, true
	case "dest_ip":
		return aliasRef{fDstIP, 3}, true
	case "id.resp_h":
		return aliasRef{fDstIP, 4}, true
	case "sport":
		return aliasRef{fSrcPort, 0}, true
	case "spt":
		return aliasRef{fSrcPort, 1}, true
	case "src_port":
		return aliasRef{fSrcPort, 2}, true
	case "srcport":
		return aliasRef{fSrcPort, 3}, true
	case "srcPort":
		return aliasRef{fSrcPort, 4}, true
	case "id.orig_p":
		return aliasRef{fSrcPort, 5}, true
	case "dport":
		return aliasRef{fDstPort, 0}, true
	case "dpt":
		return aliasRef{fDstPort, 1}, true
	case "dst_port":
		return aliasRef{fDstPort, 2}, true
	case "dstport":
		return aliasRef{fDstPort, 3}, true
	case "dstPort":
		return aliasRef{fDstPort, 4}, true
	case "dest_port":
		return aliasRef{fDstPort, 5}, true
	case "id.resp_p":
		return aliasRef{fDstPort, 6}, true
	case "smac":
		return aliasRef{fSrcMAC, 0}, true
	case "src_mac":
		return aliasRef{fSrcMAC, 1}, true
	case "srcmac":
		return aliasRef{fSrcMAC, 2}, true
	case "srcMAC":
		return aliasRef{fSrcMAC, 3}, true
	case "dmac":
		return aliasRef{fDstMAC, 0}, true
	case "dst_mac":
		return aliasRef{fDstMAC, 1}, true
	case "dstmac":
		return aliasRef{fDstMAC, 2}, true
	case "dstMAC":
		return aliasRef{fDstMAC, 3}, true
	case "proto":
		return aliasRef{fProto, 0}, true
	case "app":
		return aliasRef{fAppProto, 0}, true
	case "app_proto":
		return aliasRef{fAppProto, 1}, true
	case "op":
		return aliasRef{fOperation, 0}, true
	case "operation":
		return aliasRef{fOperation, 1}, true
	case "user":
		return aliasRef{fUser, 0}, true
	case "suser":
		return aliasRef{fUser, 1}, true
	case "duser":
		return aliasRef{fUser, 2}, true
	case "usrName":
		return aliasRef{fUser, 3}, true
	case "action":
		return aliasRef{fAction, 0}, true
	case "act":
		return aliasRef{fAction, 1}, true
	case "outcome":
		return aliasRef{fOutcome, 0}, true
	case "result":
		return aliasRef{fOutcome, 1}, true
	case "category":
		return aliasRef{fCategory, 0}, true
	case "cat":
		return aliasRef{fCategory, 1}, true
	case "bytes_out":
		return aliasRef{fBytesOut, 0}, true
	case "sentbyte":
		return aliasRef{fBytesOut, 1}, true
	case "out":
		return aliasRef{fBytesOut, 2}, true
	case "srcBytes":
		return aliasRef{fBytesOut, 3}, true
	case "bytes_in":
		return aliasRef{fBytesIn, 0}, true
	case "rcvdbyte":
		return aliasRef{fBytesIn, 1}, true
	case "in":
		return aliasRef{fBytesIn, 2}, true
	case "dstBytes":
		return aliasRef{fBytesIn, 3}, true
	case "session":
		return aliasRef{fSession, 0}, true
	case "session_id":
		return aliasRef{fSession, 1}, true
	case "sessionid":
		return aliasRef{fSession, 2}, true
	}
	return aliasRef{}, false
}
