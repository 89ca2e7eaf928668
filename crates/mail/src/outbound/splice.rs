//! Templates that are only text and `{{ name }}` placeholders — most
//! newsletters — rendered by splicing instead of running the template VM
//! over the whole body: each distinct placeholder is rendered once per
//! contact (by minijinja itself, as a one-expression template, so values
//! are formatted and escaped exactly as in the full template) and the
//! pieces are concatenated. A 10 KB newsletter with a hundred placeholders
//! renders several times faster this way.
//!
//! [`Spliced::parse`] accepts a source only when the split is unambiguous:
//! no block tags or comments, no whitespace control, and placeholders that
//! are plain variable paths (`first_name`, `contact.city`) without filters.
//! Anything else renders through minijinja as before.

use std::ops::Range;

/// One piece of a spliced template, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    /// Static text: a range of [`Spliced::text`].
    Text(Range<usize>),
    /// The value of placeholder `n` (index into [`Spliced::slots`]).
    Slot(usize),
}

/// A template split into static text and placeholders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Spliced {
    text: String,
    pieces: Vec<Piece>,
    /// The distinct placeholder expressions (`first_name`, `contact.city`).
    slots: Vec<String>,
    /// Instructions the template VM would run for the whole template: one
    /// per static piece, and per placeholder a lookup, one attribute step
    /// per dot and the emit.
    instructions: u64,
}

impl Spliced {
    /// Splits `source` (as minijinja would lex it, with its default of
    /// dropping one trailing newline), or `None` when it holds anything but
    /// text and plain `{{ path }}` placeholders.
    pub(crate) fn parse(source: &str) -> Option<Spliced> {
        let mut source = source.strip_suffix('\n').unwrap_or(source);
        source = source.strip_suffix('\r').unwrap_or(source);
        if source.contains("{%") || source.contains("{#") {
            return None;
        }
        let mut spliced = Spliced { text: String::new(), pieces: Vec::new(), slots: Vec::new(), instructions: 0 };
        let mut rest = source;
        while !rest.is_empty() {
            let (static_text, after) = match rest.find("{{") {
                Some(open) => (&rest[..open], Some(&rest[open + 2..])),
                None => (rest, None),
            };
            if !static_text.is_empty() {
                let start = spliced.text.len();
                spliced.text.push_str(static_text);
                spliced.pieces.push(Piece::Text(start..spliced.text.len()));
                spliced.instructions += 1;
            }
            let Some(after) = after else { break };
            let close = after.find("}}")?;
            let path = plain_path(&after[..close])?;
            let slot = match spliced.slots.iter().position(|s| s == path) {
                Some(slot) => slot,
                None => {
                    spliced.slots.push(path.to_owned());
                    spliced.slots.len() - 1
                }
            };
            spliced.pieces.push(Piece::Slot(slot));
            spliced.instructions += 2 + path.matches('.').count() as u64;
            rest = &after[close + 2..];
        }
        Some(spliced)
    }

    /// The distinct placeholder expressions, in the order of
    /// [`Spliced::assemble`]'s `values`.
    pub(crate) fn slots(&self) -> &[String] {
        &self.slots
    }

    /// Template instructions of a full render (see the field).
    pub(crate) fn instructions(&self) -> u64 {
        self.instructions
    }

    /// The rendered template, given each slot's rendered value.
    pub(crate) fn assemble(&self, values: &[String]) -> String {
        let len = self
            .pieces
            .iter()
            .map(|p| match p {
                Piece::Text(r) => r.len(),
                Piece::Slot(i) => values.get(*i).map_or(0, String::len),
            })
            .sum();
        let mut out = String::with_capacity(len);
        for piece in &self.pieces {
            match piece {
                Piece::Text(r) => out.push_str(&self.text[r.clone()]),
                Piece::Slot(i) => out.push_str(values.get(*i).map_or("", String::as_str)),
            }
        }
        out
    }
}

/// The trimmed expression when it is a variable path: identifiers of ASCII
/// letters, digits and `_` joined by single dots, with white space around
/// (and no `-`/`+` whitespace control, no filter, no literal).
fn plain_path(expr: &str) -> Option<&str> {
    let path = expr.trim_matches([' ', '\t', '\n', '\r']);
    // Some white space must not be all there is, and a `-`/`+` right inside
    // the braces would be whitespace control: both fail the check below.
    let ident = |s: &str| {
        s.bytes().next().is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
            && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
    };
    (path.split('.').all(ident)).then_some(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(s: &Spliced, values: &[&str]) -> String {
        let values: Vec<String> = values.iter().map(|v| (*v).to_owned()).collect();
        s.assemble(&values)
    }

    #[test]
    fn splits_text_and_placeholders() {
        let s = Spliced::parse("Hi {{ first_name }}, {{contact.city}} and {{ first_name }}!\n").expect("plain");
        assert_eq!(s.slots(), ["first_name", "contact.city"]);
        assert_eq!(render(&s, &["Anna", "Köln"]), "Hi Anna, Köln and Anna!");
        // Four texts, three placeholders (one with a dot).
        assert_eq!(s.instructions(), 4 + 2 + 3 + 2);
        assert_eq!(render(&Spliced::parse("").expect("empty"), &[]), "");
        assert_eq!(render(&Spliced::parse("a\r\n").expect("text"), &[]), "a");
        assert_eq!(render(&Spliced::parse("{{ x }}").expect("one"), &["1"]), "1");
    }

    #[test]
    fn anything_but_plain_paths_is_left_to_the_template_engine() {
        for source in [
            "{% if x %}y{% endif %}",
            "{# note #}",
            "{{ x|upper }}",
            "{{- x }}",
            "{{ x -}}",
            "{{+ x }}",
            "{{ 'a' }}",
            "{{ x + 1 }}",
            "{{ x.1 }}",
            "{{ x..y }}",
            "{{ }}",
            "{{ x",
            "{{ {'a': 1} }}",
            "{{ nämlich }}",
            "{{ x[0] }}",
            "{{ f() }}",
        ] {
            assert_eq!(Spliced::parse(source), None, "{source:?}");
        }
    }
}
