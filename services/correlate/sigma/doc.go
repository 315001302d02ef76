// Package sigma converts single-event Sigma detection rules
// (https://sigmahq.io, specification v2) into C-981 correlation rules of
// kind match, so that a SOC's existing detections run next to the OT pack.
//
// Supported: search identifiers that are maps (fields ANDed, a list of
// values ORed), lists of maps (ORed) and keyword lists (matched against
// message); the value modifiers contains, startswith, endswith, all, re,
// cidr, exists and cased; plain values with * and ? wildcards (and the \*,
// \? and \\ escapes); null values; conditions made of and, or, not,
// parentheses, "1 of" / "all of" a pattern or "them". Sigma string
// matching is case-insensitive, so string tests lower() the field unless
// the field is exact (event codes, addresses, ports) or the value is
// |cased. Field names are mapped to event fields by a table (DefaultFields,
// overridable); unmapped fields read the parser-extracted fields map
// (fields["Image"]).
//
// Not supported, and reported as errors naming the rule file: correlation
// rules, aggregations in conditions (| count() by ...), "N of" with N > 1,
// and the modifiers base64, base64offset, utf16*, wide, windash, expand,
// gt/gte/lt/lte and fieldref. The logsource is not turned into a
// condition (C-981 events are normalised across products); it is recorded
// in the description with the author, status, references and false
// positives of the original rule.
package sigma
