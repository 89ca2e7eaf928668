//! HTML → plain text for the text/plain alternative of a campaign that has
//! no text template of its own.
//!
//! A single pass over the markup, no DOM: tags are dropped, `<style>`,
//! `<script>`, `<head>` and comments are skipped, links become
//! `text (url)`, images their alt text, entities are decoded, white space is
//! collapsed as a browser would, and block elements give line breaks
//! (paragraphs, headings, tables and lists a blank line; `div`, `tr`, `li`,
//! `br` one). `<pre>` keeps its white space. The result is what a person
//! reading the text part needs: the words, the links and the imprint.

use super::encode::{BLOCK, all_set, array_at};

/// Converts rendered HTML into readable plain text (LF line endings, no
/// trailing white space).
pub fn html_to_text(html: &str) -> String {
    let mut w = Writer {
        out: String::with_capacity(html.len() / 2),
        breaks: 0,
        space: false,
        pre: 0,
        pre_seen: false,
        extra_blank_lines: false,
    };
    let mut links: Vec<(usize, String)> = Vec::new();
    let mut pos = 0;
    while pos < html.len() {
        let Some(lt) = html[pos..].find('<').map(|p| pos + p) else {
            w.text(&html[pos..]);
            break;
        };
        if lt > pos {
            w.text(&html[pos..lt]);
        }
        let rest = &html[lt..];
        if rest.starts_with("<!--") {
            pos = rest.find("-->").map_or(html.len(), |p| lt + p + 3);
            continue;
        }
        if rest.starts_with("<!") || rest.starts_with("<?") {
            pos = rest.find('>').map_or(html.len(), |p| lt + p + 1);
            continue;
        }
        let Some(tag) = Tag::parse(html, lt) else {
            // A lone '<' is text.
            w.text("<");
            pos = lt + 1;
            continue;
        };
        pos = tag.end;
        // Lower-case the name on the stack: this runs for every tag of every
        // message whose text part is derived.
        let mut lower = [0u8; 12];
        let len = tag.name.len();
        let name: &[u8] = if len <= lower.len() {
            for (d, s) in lower.iter_mut().zip(tag.name.bytes()) {
                *d = s.to_ascii_lowercase();
            }
            &lower[..len]
        } else {
            b""
        };
        match (name, tag.closing) {
            (b"style" | b"script" | b"head" | b"title" | b"template", false) if !tag.self_closing => {
                // Skip to the matching end tag; an unclosed <head> is only
                // skipped up to <body>, since HTML may omit </head>.
                let close = format!("</{}", tag.name);
                let skip_to = find_ascii_ci(&html[pos..], &close)
                    .or_else(|| if name == b"head" { find_ascii_ci(&html[pos..], "<body") } else { None });
                match skip_to {
                    Some(p) => {
                        let at = pos + p;
                        pos = html[at..].find('>').map_or(html.len(), |q| at + q + 1);
                    }
                    None if name == b"head" => {}
                    None => pos = html.len(),
                }
            }
            (b"br", _) => w.line_break(),
            (
                b"p" | b"h1" | b"h2" | b"h3" | b"h4" | b"h5" | b"h6" | b"blockquote" | b"table" | b"ul" | b"ol" | b"dl"
                | b"hr",
                _,
            ) => w.block(2),
            (b"pre", closing) => {
                w.block(2);
                w.pre = if closing { w.pre.saturating_sub(1) } else { w.pre + 1 };
                w.pre_seen = true;
            }
            (
                b"div" | b"tr" | b"section" | b"article" | b"header" | b"footer" | b"center" | b"dt" | b"dd"
                | b"address",
                _,
            ) => w.block(1),
            (b"li", false) => {
                w.block(1);
                w.raw("- ");
            }
            (b"li", true) => w.block(1),
            (b"td" | b"th", false) => w.space = true,
            (b"img", false) => {
                if let Some(alt) = tag.attr(html, "alt") {
                    w.space = true;
                    w.text(alt);
                    w.space = true;
                }
            }
            (b"a", false) => {
                let href = tag.attr(html, "href").map(|h| decode_entities(h.trim()).into_owned()).unwrap_or_default();
                links.push((w.out.len(), href));
            }
            (b"a", true) => {
                if let Some((start, href)) = links.pop() {
                    w.link_end(start, &href);
                }
            }
            _ => {}
        }
    }
    w.finish()
}

struct Writer {
    out: String,
    /// Line breaks owed before the next text (0, 1 or 2).
    breaks: u8,
    /// A space is owed before the next text.
    space: bool,
    /// Depth of `<pre>`.
    pre: usize,
    /// Whether any `<pre>` occurred (its text is not normalised on the way).
    pre_seen: bool,
    /// Whether `<br>`s made more than one blank line in a row.
    extra_blank_lines: bool,
}

impl Writer {
    fn text(&mut self, raw: &str) {
        let decoded = decode_entities(raw);
        if self.pre > 0 {
            self.flush_breaks();
            self.out.push_str(&decoded);
            return;
        }
        // Only ASCII white space collapses in HTML (U+00A0 does not). Runs of
        // text with single spaces are copied whole; this is the inner loop
        // of deriving every message's text part.
        let bytes = decoded.as_bytes();
        let mut i = 0;
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            self.space = true;
            i += 1;
        }
        if i == bytes.len() {
            return;
        }
        self.flush_breaks();
        if self.space && !self.out.is_empty() && !self.out.ends_with('\n') && !self.out.ends_with(' ') {
            self.out.push(' ');
        }
        self.space = false;
        let mut span = i;
        while i < bytes.len() {
            if !bytes[i].is_ascii_whitespace() {
                i += 1;
                continue;
            }
            let mut j = i + 1;
            while j < bytes.len() && bytes[j].is_ascii_whitespace() {
                j += 1;
            }
            if j == bytes.len() {
                // Trailing white space is owed to whatever text comes next.
                self.out.push_str(&decoded[span..i]);
                self.space = true;
                return;
            }
            if j - i > 1 || bytes[i] != b' ' {
                // ASCII white space never splits a UTF-8 sequence.
                self.out.push_str(&decoded[span..i]);
                self.out.push(' ');
                span = j;
            }
            i = j;
        }
        self.out.push_str(&decoded[span..]);
    }

    /// Text that is not subject to white space collapsing (list bullets).
    fn raw(&mut self, s: &str) {
        self.flush_breaks();
        self.out.push_str(s);
        self.space = false;
    }

    fn flush_breaks(&mut self) {
        if self.breaks > 0 && !self.out.is_empty() {
            let trimmed = self.out.trim_end_matches([' ', '\t']).len();
            self.out.truncate(trimmed);
            let have = self.out.len() - self.out.trim_end_matches('\n').len();
            for _ in have..usize::from(self.breaks) {
                self.out.push('\n');
            }
            self.space = false;
        }
        self.breaks = 0;
    }

    fn block(&mut self, breaks: u8) {
        self.breaks = self.breaks.max(breaks);
    }

    fn line_break(&mut self) {
        // <br> always breaks, even twice in a row.
        self.flush_breaks();
        let trimmed = self.out.trim_end_matches([' ', '\t']).len();
        self.out.truncate(trimmed);
        if self.out.ends_with("\n\n") {
            self.extra_blank_lines = true;
        }
        self.out.push('\n');
        self.space = false;
    }

    fn link_end(&mut self, start: usize, href: &str) {
        if href.is_empty() || href.starts_with('#') || href.to_ascii_lowercase().starts_with("javascript:") {
            return;
        }
        let shown = self.out.get(start..).unwrap_or("").trim();
        let bare = href.strip_prefix("mailto:").unwrap_or(href);
        if shown == href || shown == bare {
            return;
        }
        if shown.is_empty() {
            self.flush_breaks();
            if self.space && !self.out.is_empty() && !self.out.ends_with('\n') {
                self.out.push(' ');
            }
            self.out.push_str(href);
        } else {
            self.out.push_str(" (");
            self.out.push_str(href);
            self.out.push(')');
        }
        self.space = false;
    }

    fn finish(mut self) -> String {
        // The writer already avoids trailing spaces and runs of blank lines;
        // only `<pre>` content and repeated `<br>` need the line pass.
        if !self.pre_seen && !self.extra_blank_lines {
            let end = self.out.trim_end_matches(|c: char| c.is_ascii_whitespace()).len();
            self.out.truncate(end);
            let start = self.out.len() - self.out.trim_start_matches(|c: char| c.is_ascii_whitespace()).len();
            self.out.drain(..start);
            return self.out;
        }
        let mut result = String::with_capacity(self.out.len());
        let mut blank_run = 0;
        for line in self.out.trim_matches(|c: char| c.is_ascii_whitespace()).lines() {
            let line = line.trim_end_matches([' ', '\t', '\r']);
            if line.is_empty() {
                blank_run += 1;
                if blank_run > 1 {
                    continue;
                }
            } else {
                blank_run = 0;
            }
            result.push_str(line);
            result.push('\n');
        }
        let len = result.trim_end().len();
        result.truncate(len);
        result
    }
}

/// The white-space rules of [`html_to_text`] for text that is already
/// plain: runs of ASCII white space within a line become one space, lines
/// lose leading and trailing white space, at most one blank line in a row
/// and none at either end. For a text template derived from an HTML
/// template: its rendered output then reads like [`html_to_text`] of the
/// rendered HTML.
pub fn tidy(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    // Line breaks and white space seen since the last word.
    let mut breaks = 0usize;
    let mut space = false;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\n' => {
                breaks += 1;
                space = false;
                i += 1;
                continue;
            }
            c if c.is_ascii_whitespace() => {
                space = true;
                i += 1;
                continue;
            }
            _ => {}
        }
        if !out.is_empty() {
            match breaks {
                0 if space => out.push(' '),
                0 => {}
                1 => out.push('\n'),
                _ => out.push_str("\n\n"),
            }
        }
        (breaks, space) = (0, false);
        // Copy words joined by single spaces in one go. `start` and `i` sit
        // on ASCII bytes (or the end), so both are character boundaries.
        let start = i;
        while i < b.len() {
            if array_at(b, i).is_some_and(block_is_tidy) {
                i += BLOCK;
                continue;
            }
            let c = b[i];
            if !c.is_ascii_whitespace() || (c == b' ' && b.get(i + 1).is_some_and(|n| !n.is_ascii_whitespace())) {
                i += 1;
            } else {
                break;
            }
        }
        out.push_str(&text[start..i]);
    }
    out
}

/// Whether the first [`BLOCK`] bytes of `w` are words joined by single
/// spaces (the last byte of `w` is the one after them), which [`tidy`]
/// copies as they are. Bytes below 0x20 that are not white space fail too;
/// the byte-wise path decides those.
#[inline]
fn block_is_tidy(w: &[u8; BLOCK + 1]) -> bool {
    // Computed for all bytes, then combined: the form that vectorises.
    let mut plain = [false; BLOCK];
    for (k, plain) in plain.iter_mut().enumerate() {
        let (c, n) = (w[k], w[k + 1]);
        *plain = (c > 0x20) | ((c == b' ') & (n > 0x20));
    }
    all_set(&plain)
}

/// A start or end tag found at `<`.
pub(crate) struct Tag<'h> {
    pub(crate) name: &'h str,
    pub(crate) closing: bool,
    pub(crate) self_closing: bool,
    /// Byte range of the attribute text (after the name, before `>`/`/>`).
    pub(crate) attrs: std::ops::Range<usize>,
    /// Index just past `>`.
    pub(crate) end: usize,
}

impl<'h> Tag<'h> {
    /// Parses a tag starting at `bytes[lt] == b'<'`; `None` if this is not a
    /// tag (e.g. `a < b` in text). Quoted attribute values may contain `>`.
    pub(crate) fn parse(html: &'h str, lt: usize) -> Option<Tag<'h>> {
        let bytes = html.as_bytes();
        let mut i = lt + 1;
        let closing = bytes.get(i) == Some(&b'/');
        if closing {
            i += 1;
        }
        let name_start = i;
        while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'-' || bytes[i] == b':') {
            i += 1;
        }
        if i == name_start || !bytes[name_start].is_ascii_alphabetic() {
            return None;
        }
        // Name bytes are ASCII, so both ends are character boundaries.
        let name = html.get(name_start..i)?;
        let attrs_start = i;
        let mut quote: Option<u8> = None;
        while i < bytes.len() {
            match (quote, bytes[i]) {
                (Some(q), b) if b == q => quote = None,
                (Some(_), _) => {}
                (None, b'"' | b'\'') => quote = Some(bytes[i]),
                (None, b'>') => break,
                _ => {}
            }
            i += 1;
        }
        if i >= bytes.len() {
            return None;
        }
        let self_closing = i > attrs_start && bytes[i - 1] == b'/';
        let attrs_end = if self_closing { i - 1 } else { i };
        Some(Tag { name, closing, self_closing, attrs: attrs_start..attrs_end, end: i + 1 })
    }

    /// The raw (entity-encoded) value of attribute `name`, if present.
    pub(crate) fn attr<'s>(&self, html: &'s str, name: &str) -> Option<&'s str> {
        attr_spans(&html[self.attrs.clone()])
            .find(|a| a.name.eq_ignore_ascii_case(name))
            .map(|a| &html[self.attrs.start + a.value.start..self.attrs.start + a.value.end])
    }
}

/// One attribute inside a tag's attribute text, with byte ranges relative
/// to that text.
pub(crate) struct AttrSpan<'a> {
    pub(crate) name: &'a str,
    /// The whole attribute, `name="value"`.
    pub(crate) whole: std::ops::Range<usize>,
    /// The value without quotes (empty for a bare attribute).
    pub(crate) value: std::ops::Range<usize>,
}

/// Iterates the attributes of a tag's attribute text.
pub(crate) fn attr_spans(attrs: &str) -> impl Iterator<Item = AttrSpan<'_>> {
    let bytes = attrs.as_bytes();
    let mut i = 0;
    std::iter::from_fn(move || {
        while i < bytes.len() && (bytes[i].is_ascii_whitespace() || bytes[i] == b'/') {
            i += 1;
        }
        if i >= bytes.len() {
            return None;
        }
        let start = i;
        while i < bytes.len() && !bytes[i].is_ascii_whitespace() && !matches!(bytes[i], b'=' | b'>' | b'/') {
            // Skip template expressions and quoted junk as one unit.
            if matches!(bytes[i], b'"' | b'\'') {
                let q = bytes[i];
                i += 1;
                while i < bytes.len() && bytes[i] != q {
                    i += 1;
                }
            }
            i += 1;
        }
        let name_end = i.min(bytes.len());
        let name = &attrs[start..name_end];
        let mut j = name_end;
        while j < bytes.len() && bytes[j].is_ascii_whitespace() {
            j += 1;
        }
        if j < bytes.len() && bytes[j] == b'=' {
            j += 1;
            while j < bytes.len() && bytes[j].is_ascii_whitespace() {
                j += 1;
            }
            let (value, end) = match bytes.get(j) {
                Some(&q @ (b'"' | b'\'')) => {
                    let vs = j + 1;
                    let ve = attrs[vs..].find(q as char).map_or(bytes.len(), |p| vs + p);
                    (vs..ve, (ve + 1).min(bytes.len()))
                }
                _ => {
                    let vs = j;
                    let ve = attrs[vs..].find(|c: char| c.is_ascii_whitespace()).map_or(bytes.len(), |p| vs + p);
                    (vs..ve, ve)
                }
            };
            i = end;
            Some(AttrSpan { name, whole: start..end, value })
        } else {
            i = name_end.max(start + 1);
            Some(AttrSpan { name, whole: start..name_end, value: name_end..name_end })
        }
    })
}

/// Finds `needle` (ASCII) in `hay`, ignoring ASCII case.
pub(crate) fn find_ascii_ci(hay: &str, needle: &str) -> Option<usize> {
    let n = needle.len();
    hay.as_bytes().windows(n).position(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
}

/// Decodes HTML character references: numeric ones and the named ones that
/// occur in mail (Latin-1 letters, typography). Unknown ones stay as they
/// are; `&nbsp;` becomes a plain space.
pub fn decode_entities(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.contains('&') {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        rest = &rest[amp..];
        let end = rest.as_bytes().iter().take(12).position(|&b| b == b';');
        let decoded = end.and_then(|end| decode_one(&rest[1..end]).map(|c| (c, end)));
        match decoded {
            Some((c, end)) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    std::borrow::Cow::Owned(out)
}

fn decode_one(name: &str) -> Option<char> {
    if let Some(num) = name.strip_prefix('#') {
        let code = match num.strip_prefix(['x', 'X']) {
            Some(hex) => u32::from_str_radix(hex, 16).ok()?,
            None => num.parse().ok()?,
        };
        return char::from_u32(code).filter(|c| *c != '\0').map(|c| if c == '\u{a0}' { ' ' } else { c });
    }
    let c = match name {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        "nbsp" => ' ',
        "copy" => '©',
        "reg" => '®',
        "trade" => '™',
        "euro" => '€',
        "pound" => '£',
        "yen" => '¥',
        "cent" => '¢',
        "sect" => '§',
        "para" => '¶',
        "deg" => '°',
        "middot" => '·',
        "bull" => '•',
        "hellip" => '…',
        "ndash" => '–',
        "mdash" => '—',
        "lsquo" => '‘',
        "rsquo" => '’',
        "sbquo" => '‚',
        "ldquo" => '“',
        "rdquo" => '”',
        "bdquo" => '„',
        "laquo" => '«',
        "raquo" => '»',
        "times" => '×',
        "divide" => '÷',
        "shy" => '\u{ad}',
        "zwnj" => '\u{200c}',
        "auml" => 'ä',
        "ouml" => 'ö',
        "uuml" => 'ü',
        "Auml" => 'Ä',
        "Ouml" => 'Ö',
        "Uuml" => 'Ü',
        "szlig" => 'ß',
        "eacute" => 'é',
        "egrave" => 'è',
        "ecirc" => 'ê',
        "Eacute" => 'É',
        "aacute" => 'á',
        "agrave" => 'à',
        "acirc" => 'â',
        "iacute" => 'í',
        "oacute" => 'ó',
        "uacute" => 'ú',
        "ccedil" => 'ç',
        "ntilde" => 'ñ',
        "oslash" => 'ø',
        "aring" => 'å',
        "aelig" => 'æ',
        _ => return None,
    };
    Some(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What [`tidy`] does, written the slow and obvious way.
    fn tidy_reference(text: &str) -> String {
        let mut out = String::new();
        let mut gap = String::new();
        let mut word = String::new();
        let flush = |out: &mut String, gap: &mut String, word: &mut String| {
            if !word.is_empty() {
                if !out.is_empty() {
                    out.push_str(match gap.matches('\n').count() {
                        0 if gap.is_empty() => "",
                        0 => " ",
                        1 => "\n",
                        _ => "\n\n",
                    });
                }
                out.push_str(word);
                gap.clear();
                word.clear();
            }
        };
        for c in text.chars() {
            if c.is_ascii_whitespace() {
                if !word.is_empty() {
                    flush(&mut out, &mut gap, &mut word);
                }
                gap.push(c);
            } else {
                word.push(c);
            }
        }
        flush(&mut out, &mut gap, &mut word);
        out
    }

    proptest::proptest! {
        #[test]
        fn tidy_matches_the_reference(
            text in super::super::encode::concatenations(&[
                "Lorem ipsum dolor sit amet, consectetur adipiscing elit",
                " ", "  ", "\t", "\n", "\r\n", "\x0b", "\x0c", "\x01", "ü", "x",
            ], 60)
        ) {
            proptest::prop_assert_eq!(tidy(&text), tidy_reference(&text));
        }
    }

    #[test]
    fn paragraphs_links_and_entities() {
        let html = r#"<html><head><title>T</title><style>p{color:red}</style></head><body>
            <h1>Hello&nbsp;Anna</h1>
            <p>Our   <b>new</b>
               offer &amp; more: <a href="https://example.com/x?a=1&amp;b=2">see it</a>.</p>
            <p>Line one<br>Line two</p>
            <ul><li>first</li><li>second</li></ul>
            <script>alert(1)</script><!-- hidden -->
            <p><a href="https://example.com/u/T">https://example.com/u/T</a></p>
            <p>&#8364;5 &#x263A; &unknown; &lt;tag&gt;</p>
            </body></html>"#;
        let text = html_to_text(html);
        assert_eq!(
            text,
            "Hello Anna\n\nOur new offer & more: see it (https://example.com/x?a=1&b=2).\n\nLine one\nLine two\n\n\
             - first\n- second\n\nhttps://example.com/u/T\n\n€5 ☺ &unknown; <tag>"
        );
    }

    #[test]
    fn tables_cells_and_images() {
        let html = "<table><tr><td>a</td><td>b</td></tr><tr><td><img src=x alt='Logo'></td></tr></table>";
        assert_eq!(html_to_text(html), "a b\nLogo");
    }

    #[test]
    fn pre_keeps_white_space_and_stray_lt_is_text() {
        assert_eq!(html_to_text("<pre>a  b\n  c</pre>x < y"), "a  b\n  c\n\nx < y");
    }

    #[test]
    fn attribute_values_may_contain_gt() {
        assert_eq!(html_to_text("<a href=\"https://e.x/?a>b\" title='x>y'>go</a>"), "go (https://e.x/?a>b)");
    }

    #[test]
    fn repeated_line_breaks_give_at_most_one_blank_line() {
        assert_eq!(html_to_text("a<br><br><br><br>b<br>c"), "a\n\nb\nc");
        assert_eq!(html_to_text("<p>a</p><p></p><p></p><div>b</div>"), "a\n\nb");
    }

    #[test]
    fn unclosed_head_does_not_swallow_the_body() {
        assert_eq!(html_to_text("<head><meta charset=utf-8><body><p>Hi</p>"), "Hi");
    }
}
