// Package guidance turns an incident's response plans into plain-language
// guidance for the plant operator of the affected zone: what to check, what
// NOT to do, whom to call, what C-981 does by itself and what waits for
// someone's approval. It renders the same Guidance as JSON and Markdown.
//
// Refused (forbidden) steps are never dropped: they appear under "Do not"
// with the reason, so a person reads why the IT reflex is not taken.
package guidance
