package syslog

// hotKeys are the keys the format mappers read that records usually
// have (CEF/LEEF vendor keys, the EVE top-level and alert keys): their
// values are kept in aliasState.hot while Fields is built, so reading
// them costs no map lookup (see fieldView.lookup and fieldView.hot).
// The hX constants are their indexes.
var hotKeys = [...]string{
	hMsg:                                  "msg",
	hRT:                                   "rt",
	hEnd:                                  "end",
	hStart:                                "start",
	hDvchost:                              "dvchost",
	hDvc:                                  "dvc",
	hExternalId:                           "externalId",
	hEventCode:                            "event_code",
	hEventIDNoSep:                         "eventid",
	hEventID:                              "event_id",
	hCategory:                             "category",
	hCat:                                  "cat",
	hTechniques:                           "techniques",
	hTechnique:                            "technique",
	hMitreTechnique:                       "mitre_technique",
	hMitreTechniqueID:                     "mitre_technique_id",
	hMitreTechniques:                      "mitre_techniques",
	hMitreAttackTechnique:                 "mitre_attack_technique",
	hAttackTechnique:                      "attack_technique",
	hAppProto:                             "app_proto",
	hProtocol:                             "protocol",
	hOtProtocol:                           "ot_protocol",
	hApp:                                  "app",
	hOtOperation:                          "ot_operation",
	hOperation:                            "operation",
	hOP:                                   "op",
	hEventType:                            "event_type",
	hTimestamp:                            "timestamp",
	hTS:                                   "ts",
	hHost:                                 "host",
	hFlowID:                               "flow_id",
	hAlertSignatureID:                     "alert.signature_id",
	hAlertSignature:                       "alert.signature",
	hAlertSeverity:                        "alert.severity",
	hAlertAction:                          "alert.action",
	hAlertCategory:                        "alert.category",
	hEtherSrcMAC:                          "ether.src_mac",
	hEtherDestMAC:                         "ether.dest_mac",
	hFlowBytesToserver:                    "flow.bytes_toserver",
	hFlowBytesToclient:                    "flow.bytes_toclient",
	hNetflowBytes:                         "netflow.bytes",
	hModbusRequestFunctionRaw:             "modbus.request.function_raw",
	hModbusRequestFunctionCode:            "modbus.request.function_code",
	hDnp3Type:                             "dnp3.type",
	hDnp3ApplicationFunctionCode:          "dnp3.application.function_code",
	hEnipRequestCommand:                   "enip.request.command",
	hAlertMetadataMitreTechniqueID0:       "alert.metadata.mitre_technique_id.0",
	hAlertMetadataMitreAttackTechniqueID0: "alert.metadata.mitre_attack_technique_id.0",
	hOperationType:                        "operation_type",
	hFunctionName:                         "function_name",
	hCommandName:                          "command_name",
}

// Indexes of the hot keys in hotKeys.
const (
	hMsg = iota
	hRT
	hEnd
	hStart
	hDvchost
	hDvc
	hExternalId
	hEventCode
	hEventIDNoSep
	hEventID
	hCategory
	hCat
	hTechniques
	hTechnique
	hMitreTechnique
	hMitreTechniqueID
	hMitreTechniques
	hMitreAttackTechnique
	hAttackTechnique
	hAppProto
	hProtocol
	hOtProtocol
	hApp
	hOtOperation
	hOperation
	hOP
	hEventType
	hTimestamp
	hTS
	hHost
	hFlowID
	hAlertSignatureID
	hAlertSignature
	hAlertSeverity
	hAlertAction
	hAlertCategory
	hEtherSrcMAC
	hEtherDestMAC
	hFlowBytesToserver
	hFlowBytesToclient
	hNetflowBytes
	hModbusRequestFunctionRaw
	hModbusRequestFunctionCode
	hDnp3Type
	hDnp3ApplicationFunctionCode
	hEnipRequestCommand
	hAlertMetadataMitreTechniqueID0
	hAlertMetadataMitreAttackTechniqueID0
	hOperationType
	hFunctionName
	hCommandName
	// numHot is the number of hot keys (at most 64: aliasState.hotSet).
	numHot
)

// hotSet has a bit per hot key: this fails to compile with more than 64.
var _ [64 - numHot]struct{}
