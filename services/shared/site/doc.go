// Package site defines C-981's IEC 62443 site model: one YAML file per site
// describing its areas, its zones (with kind, Purdue level, target security
// level, safety flag and CIDRs), the conduits that connect them (with the
// allow-listed flows and the OT operations each flow permits), the
// inventoried assets (addresses, MACs, host names and response constraints)
// and the maintenance windows (one-off, or weekly recurring in the site's
// time zone; see Recurrence and Schedule).
//
// Load reads a file strictly (unknown fields are errors) and validates it;
// every validation problem is reported as "file:line: message" so an operator
// can fix the model without guessing. LoadAll loads files and directories of
// them. ImportCSV merges assets from sensor inventory exports. The enrich
// stage builds its lookup index from validated Models;
// schemas/site.schema.json describes the same YAML and docs/SITE-MODEL.md
// documents it.
package site
