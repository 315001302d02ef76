package syslog

import "math"

// fastJSONDepth is the nesting fastFlattenJSON handles (at most
// maxJSONDepth); deeper records take the general flattener.
const fastJSONDepth = 8

// fastFlattenJSON is flattenJSON for the usual record: compact JSON (no
// white space) whose strings have no escapes and no control characters,
// with non-empty keys and at most fastJSONDepth levels, as Suricata and
// Zeek write it. It walks the document in one loop with an explicit
// stack (no recursion, no per-value calls) and makes exactly the
// setField calls of the recursive jsonFlattener, in the same order, so
// fields and as end up the same (FuzzFastFlattenJSON checks it).
//
// It returns false as soon as the record leaves that subset (or is
// malformed): then fields and as hold part of the record, and the caller
// must restore them and run the general flattener, which also reports
// the errors.
func fastFlattenJSON(d string, fields *fieldSet, as *aliasState) bool {
	if len(d) < 2 || d[0] != '{' {
		return false
	}
	// One frame per open object or array: the key length of its members'
	// prefix, whether it is an array and the next array index.
	type frame struct {
		base, idx int32
		arr       bool
	}
	var stack [fastJSONDepth]frame
	var key keyBuf
	depth := 1
	stack[0] = frame{}
	i := 1
	if d[i] == '}' {
		return len(d) == 2
	}
	for {
		// A member: a key and ':' in an object, nothing in an array.
		fr := &stack[depth-1]
		topKey := ""
		if fr.arr {
			key.n = int(fr.base)
			if fr.base > 0 {
				key.add(".")
			}
			var digits [20]byte
			key.addBytes(appendUint(digits[:0], int(fr.idx)))
			fr.idx++
		} else {
			if i >= len(d) || d[i] != '"' {
				return false
			}
			j := plainJSONRun(d, i+1)
			if j == i+1 || j+1 >= len(d) || d[j] != '"' || d[j+1] != ':' {
				return false // empty key, escape, non-ASCII, white space or malformed
			}
			k := d[i+1 : j]
			i = j + 2
			key.n = int(fr.base)
			if depth == 1 {
				topKey = k // as jsonFlattener.topKey
			} else {
				if fr.base > 0 {
					key.add(".")
				}
				key.add(k)
			}
		}
		// The value.
		if i >= len(d) {
			return false
		}
		switch c := d[i]; {
		case c == '{' || c == '[':
			if depth >= fastJSONDepth || key.n > math.MaxInt32 {
				return false // deeper: the general flattener (and its depth limit)
			}
			if topKey != "" {
				key.add(topKey)
			}
			stack[depth] = frame{base: int32(key.n), arr: c == '['}
			depth++
			i++
			if i < len(d) && (d[i] == '}' && c == '{' || d[i] == ']' && c == '[') {
				i++
				depth-- // empty: no leaves
				break
			}
			continue // the first member
		case c == '"':
			j := i + 1
			ascii := true
			for {
				j = plainJSONRun(d, j)
				if j < len(d) && d[j] >= 0x80 {
					ascii = false
					j++
					continue
				}
				break
			}
			if j >= len(d) || d[j] != '"' {
				return false // an escape or a control character
			}
			v := d[i+1 : j]
			if !ascii {
				v = clean(v)
			}
			i = j + 1
			fastEmit(fields, as, topKey, &key, v)
		case c == 't':
			if len(d)-i < 4 || d[i:i+4] != "true" {
				return false
			}
			i += 4
			fastEmit(fields, as, topKey, &key, "true")
		case c == 'f':
			if len(d)-i < 5 || d[i:i+5] != "false" {
				return false
			}
			i += 5
			fastEmit(fields, as, topKey, &key, "false")
		case c == 'n':
			if len(d)-i < 4 || d[i:i+4] != "null" {
				return false
			}
			i += 4
		case c == '-' || c >= '0' && c <= '9':
			start := i
			end, ok := scanNumber(d, i)
			if !ok {
				return false
			}
			i = end
			fastEmit(fields, as, topKey, &key, d[start:i])
		default:
			return false
		}
		// After a value: ',' continues the container, '}' or ']' closes
		// it (and possibly its parents).
		for {
			if i >= len(d) {
				return false
			}
			arr := stack[depth-1].arr
			switch d[i] {
			case ',':
				i++
			case '}':
				if arr {
					return false
				}
				i++
				depth--
			case ']':
				if !arr {
					return false
				}
				i++
				depth--
			default:
				return false
			}
			if d[i-1] == ',' {
				break
			}
			if depth == 0 {
				return i == len(d)
			}
		}
	}
}

// fastEmit is jsonFlattener.emit for fastFlattenJSON.
func fastEmit(fields *fieldSet, as *aliasState, topKey string, key *keyBuf, v string) {
	if fields.len() >= MaxFields {
		return
	}
	if topKey != "" {
		setField(fields, as, topKey, v)
		return
	}
	if key.n == 0 {
		return // as jsonFlattener.emit: a leaf without a key is not kept
	}
	b := key.bytes()
	k, ok := internJSONKey(b)
	if !ok {
		k = string(b)
	}
	setField(fields, as, k, v)
}

// appendUint appends the decimal digits of n >= 0 to b.
func appendUint(b []byte, n int) []byte {
	if n < 10 {
		return append(b, byte('0'+n))
	}
	var tmp [20]byte
	i := len(tmp)
	for n > 0 {
		i--
		tmp[i] = byte('0' + n%10)
		n /= 10
	}
	return append(b, tmp[i:]...)
}
