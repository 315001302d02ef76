// Package site defines C-981's IEC 62443 site model: one YAML file per site
// describing its zones (with Purdue level, target security level, safety flag
// and CIDRs), the conduits that connect them (with the allow-listed flows and
// the OT operations each flow permits), the inventoried assets and the
// maintenance windows.
//
// Load reads a file strictly (unknown fields are errors) and validates it;
// every validation problem is reported as "file:line: message" so an operator
// can fix the model without guessing. The enrich stage builds its lookup index
// from a validated Model; schemas/site.schema.json describes the same YAML.
package site
