//! CSS inlining for campaign HTML, done once when a campaign is saved or
//! compiled: many mail clients ignore `<style>` blocks, all of them honour
//! `style` attributes.
//!
//! Why not an HTML5 parser (css-inline): it runs on the *template* source,
//! and a tree builder moves text it finds in table context — such as a
//! `{% for %}` between `<tr>`s — out of the table (HTML "foster
//! parenting"), breaking the template. This inliner works on the tag level
//! and never moves or rewrites anything but `style` attributes and the
//! `<style>` blocks themselves.
//!
//! Supported: rules whose selectors are simple compound selectors — a type
//! (`td`), `*`, classes (`.btn`), an id (`#main`), or combinations
//! (`a.btn.primary`) — in comma lists; declarations are merged by
//! specificity then source order, inline `style` wins over rules unless a
//! rule says `!important`. Everything else stays in a `<style>` block in
//! place of the first one: at-rules (`@media`, `@font-face`), and selectors
//! with combinators, attribute selectors or pseudo-classes (`a:hover`).
//! `<style>` blocks inside comments (Outlook conditional comments) or with a
//! `media` other than `all`/`screen` are left untouched. Limits: no
//! inheritance is computed (clients do that), shorthands are not expanded,
//! and `class`/`id` values produced by template expressions cannot match.

use super::text::{Tag, attr_spans, find_ascii_ci};

/// Inlines the `<style>` rules of `html` into `style` attributes (see the
/// module documentation for what is supported). Template tags in the
/// markup are kept as they are.
pub fn inline_css(html: &str) -> String {
    let blocks = style_blocks(html);
    if blocks.is_empty() {
        return html.to_owned();
    }
    let mut rules = Vec::new();
    let mut leftover = String::new();
    for block in &blocks {
        parse_stylesheet(&html[block.css.clone()], &mut rules, &mut leftover);
    }
    let mut out = String::with_capacity(html.len() + html.len() / 4);
    let mut pos = 0;
    let mut next_block = 0;
    let mut in_head = false;
    while pos < html.len() {
        let Some(lt) = html[pos..].find('<').map(|p| pos + p) else {
            out.push_str(&html[pos..]);
            break;
        };
        out.push_str(&html[pos..lt]);
        if let Some(block) = blocks.get(next_block).filter(|b| b.whole.start == lt) {
            if next_block == 0 && !leftover.trim().is_empty() {
                out.push_str("<style type=\"text/css\">");
                out.push_str(leftover.trim());
                out.push_str("</style>");
            }
            next_block += 1;
            pos = block.whole.end;
            continue;
        }
        let rest = &html[lt..];
        if let Some(skip) = skip_verbatim(rest) {
            out.push_str(&rest[..skip]);
            pos = lt + skip;
            continue;
        }
        let Some(tag) = Tag::parse(html, lt) else {
            out.push('<');
            pos = lt + 1;
            continue;
        };
        pos = tag.end;
        let name = tag.name;
        if name.eq_ignore_ascii_case("head") {
            in_head = !tag.closing;
        } else if name.eq_ignore_ascii_case("body") {
            in_head = false;
        }
        if tag.closing || in_head || is_non_visual(name) {
            out.push_str(&html[lt..tag.end]);
            if !tag.closing && (name.eq_ignore_ascii_case("script") || name.eq_ignore_ascii_case("style")) {
                // Content of unconsumed script/style blocks is copied as is.
                let close = format!("</{name}");
                let end = find_ascii_ci(&html[pos..], &close).map_or(html.len(), |p| pos + p);
                out.push_str(&html[pos..end]);
                pos = end;
            }
            continue;
        }
        write_tag(html, &tag, lt, &rules, &mut out);
    }
    out
}

/// Comments, doctype and processing instructions are copied verbatim.
fn skip_verbatim(rest: &str) -> Option<usize> {
    if rest.starts_with("<!--") {
        return Some(rest.find("-->").map_or(rest.len(), |p| p + 3));
    }
    if rest.starts_with("<!") || rest.starts_with("<?") {
        return Some(rest.find('>').map_or(rest.len(), |p| p + 1));
    }
    None
}

fn is_non_visual(name: &str) -> bool {
    ["html", "head", "meta", "title", "link", "base", "style", "script", "br", "wbr"]
        .iter()
        .any(|n| name.eq_ignore_ascii_case(n))
}

struct StyleBlock {
    /// `<style …>…</style>`.
    whole: std::ops::Range<usize>,
    /// The CSS text inside.
    css: std::ops::Range<usize>,
}

/// The `<style>` blocks to consume: outside comments, and for all media.
fn style_blocks(html: &str) -> Vec<StyleBlock> {
    let mut blocks = Vec::new();
    let mut pos = 0;
    while let Some(lt) = html[pos..].find('<').map(|p| pos + p) {
        let rest = &html[lt..];
        if let Some(skip) = skip_verbatim(rest) {
            pos = lt + skip;
            continue;
        }
        let Some(tag) = Tag::parse(html, lt) else {
            pos = lt + 1;
            continue;
        };
        pos = tag.end;
        let is_style = tag.name.eq_ignore_ascii_case("style");
        let is_script = tag.name.eq_ignore_ascii_case("script");
        if tag.closing || !(is_style || is_script) {
            continue;
        }
        let close = if is_style { "</style" } else { "</script" };
        let Some(close_at) = find_ascii_ci(&html[pos..], close).map(|p| pos + p) else {
            break;
        };
        let end = html[close_at..].find('>').map_or(html.len(), |p| close_at + p + 1);
        let media_ok = tag.attr(html, "media").is_none_or(|m| {
            let m = m.trim();
            m.is_empty() || m.eq_ignore_ascii_case("all") || m.eq_ignore_ascii_case("screen")
        });
        if is_style && media_ok {
            blocks.push(StyleBlock { whole: lt..end, css: tag.end..close_at });
        }
        pos = end;
    }
    blocks
}

#[derive(Debug, Clone, PartialEq)]
struct Selector {
    tag: Option<String>,
    id: Option<String>,
    classes: Vec<String>,
}

impl Selector {
    /// Parses a simple compound selector; `None` for anything else.
    fn parse(text: &str) -> Option<Selector> {
        let text = text.trim();
        let bytes = text.as_bytes();
        let ident_end = |from: usize| {
            let mut i = from;
            while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'-' || bytes[i] == b'_') {
                i += 1;
            }
            i
        };
        let mut sel = Selector { tag: None, id: None, classes: Vec::new() };
        let mut i = 0;
        if bytes.first() == Some(&b'*') {
            i = 1;
        } else if bytes.first().is_some_and(u8::is_ascii_alphabetic) {
            i = ident_end(0);
            sel.tag = Some(text[..i].to_ascii_lowercase());
        }
        while i < bytes.len() {
            let kind = bytes[i];
            let end = ident_end(i + 1);
            if end == i + 1 {
                return None;
            }
            let ident = text[i + 1..end].to_owned();
            match kind {
                b'.' => sel.classes.push(ident),
                b'#' if sel.id.is_none() => sel.id = Some(ident),
                _ => return None,
            }
            i = end;
        }
        if text.is_empty() { None } else { Some(sel) }
    }

    fn specificity(&self) -> (usize, usize, usize) {
        (usize::from(self.id.is_some()), self.classes.len(), usize::from(self.tag.is_some()))
    }

    fn matches(&self, tag: &str, id: Option<&str>, classes: Option<&str>) -> bool {
        if self.tag.as_deref().is_some_and(|t| !t.eq_ignore_ascii_case(tag)) {
            return false;
        }
        if self.id.is_some() && self.id.as_deref() != id {
            return false;
        }
        self.classes.iter().all(|c| classes.is_some_and(|list| list.split_ascii_whitespace().any(|x| x == c)))
    }
}

#[derive(Debug, Clone, PartialEq)]
struct Declaration {
    property: String,
    value: String,
    important: bool,
}

struct Rule {
    selector: Selector,
    declarations: Vec<Declaration>,
}

/// Parses a stylesheet: inlinable rules go to `rules` (in source order),
/// everything else is appended to `leftover` as CSS text.
fn parse_stylesheet(css: &str, rules: &mut Vec<Rule>, leftover: &mut String) {
    let css = strip_comments(css);
    let mut rest = css.as_str();
    loop {
        rest = rest.trim_start();
        if rest.is_empty() {
            break;
        }
        // HTML comment markers are allowed around CSS for old clients.
        if let Some(r) = rest.strip_prefix("<!--").or_else(|| rest.strip_prefix("-->")) {
            rest = r;
            continue;
        }
        if rest.starts_with('@') {
            let semi = rest.find(';');
            let brace = rest.find('{');
            let end = match (semi, brace) {
                (Some(s), Some(b)) if s < b => s + 1,
                (_, Some(b)) => matching_brace(rest, b).map_or(rest.len(), |e| e + 1),
                (Some(s), None) => s + 1,
                (None, None) => rest.len(),
            };
            leftover.push_str(rest[..end].trim());
            leftover.push('\n');
            rest = &rest[end..];
            continue;
        }
        let Some(open) = rest.find('{') else {
            break;
        };
        let close = matching_brace(rest, open).unwrap_or(rest.len());
        let selectors = &rest[..open];
        let body = &rest[open + 1..close.min(rest.len())];
        rest = rest.get(close + 1..).unwrap_or("");
        let declarations = parse_declarations(body);
        for selector_text in selectors.split(',') {
            match Selector::parse(selector_text) {
                Some(selector) => rules.push(Rule { selector, declarations: declarations.clone() }),
                None => {
                    leftover.push_str(selector_text.trim());
                    leftover.push_str(" {");
                    leftover.push_str(body.trim());
                    leftover.push_str("}\n");
                }
            }
        }
    }
}

fn strip_comments(css: &str) -> String {
    let mut out = String::with_capacity(css.len());
    let mut rest = css;
    while let Some(start) = rest.find("/*") {
        out.push_str(&rest[..start]);
        rest = rest[start + 2..].find("*/").map_or("", |e| &rest[start + 2 + e + 2..]);
    }
    out.push_str(rest);
    out
}

/// Index of the `}` closing the `{` at `open`, skipping strings and nested
/// blocks.
fn matching_brace(s: &str, open: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut quote: Option<u8> = None;
    for (i, &b) in s.as_bytes().iter().enumerate().skip(open) {
        match (quote, b) {
            (Some(q), b) if b == q => quote = None,
            (Some(_), _) => {}
            (None, b'"' | b'\'') => quote = Some(b),
            (None, b'{') => depth += 1,
            (None, b'}') => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
    }
    None
}

/// Splits `a: b; c: d !important` into declarations, respecting quotes and
/// parentheses (`url(data:…;…)`).
fn parse_declarations(body: &str) -> Vec<Declaration> {
    let mut pieces = Vec::new();
    let mut start = 0;
    let mut depth = 0i32;
    let mut quote: Option<u8> = None;
    for (i, &b) in body.as_bytes().iter().enumerate() {
        match quote {
            Some(q) if b == q => quote = None,
            Some(_) => {}
            None => match b {
                b'"' | b'\'' => quote = Some(b),
                b'(' => depth += 1,
                b')' => depth -= 1,
                b';' if depth <= 0 => {
                    pieces.push(&body[start..i]);
                    start = i + 1;
                }
                _ => {}
            },
        }
    }
    pieces.push(&body[start..]);
    let mut out = Vec::new();
    for decl in pieces {
        let Some((property, value)) = decl.split_once(':') else {
            continue;
        };
        let property = property.trim().to_ascii_lowercase();
        let mut value = value.trim();
        let mut important = false;
        if let Some(bang) = value.rfind('!')
            && value[bang + 1..].trim().eq_ignore_ascii_case("important")
        {
            important = true;
            value = value[..bang].trim_end();
        }
        if !property.is_empty() && !value.is_empty() {
            out.push(Declaration { property, value: value.to_owned(), important });
        }
    }
    out
}

/// Writes a start tag with the matching rules merged into its `style`.
fn write_tag(html: &str, tag: &Tag<'_>, lt: usize, rules: &[Rule], out: &mut String) {
    let id = tag.attr(html, "id");
    let classes = tag.attr(html, "class");
    let mut matching: Vec<(usize, &Rule)> =
        rules.iter().enumerate().filter(|(_, r)| r.selector.matches(tag.name, id, classes)).collect();
    if matching.is_empty() {
        out.push_str(&html[lt..tag.end]);
        return;
    }
    matching.sort_by_key(|(order, r)| (r.selector.specificity(), *order));

    let attrs = &html[tag.attrs.clone()];
    let existing = attr_spans(attrs).find(|a| a.name.eq_ignore_ascii_case("style"));
    let inline = existing.as_ref().map(|a| parse_declarations(&attrs[a.value.clone()])).unwrap_or_default();

    let mut merged: Vec<Declaration> = Vec::new();
    let put = |d: &Declaration, merged: &mut Vec<Declaration>| {
        merged.retain(|m| m.property != d.property);
        merged.push(d.clone());
    };
    for (_, rule) in &matching {
        for d in rule.declarations.iter().filter(|d| !d.important) {
            put(d, &mut merged);
        }
    }
    for d in inline.iter().filter(|d| !d.important) {
        put(d, &mut merged);
    }
    for (_, rule) in &matching {
        for d in rule.declarations.iter().filter(|d| d.important) {
            put(d, &mut merged);
        }
    }
    for d in inline.iter().filter(|d| d.important) {
        put(d, &mut merged);
    }

    out.push_str(&html[lt..tag.attrs.start]);
    out.push_str(" style=\"");
    for (i, d) in merged.iter().enumerate() {
        if i > 0 {
            out.push_str("; ");
        }
        out.push_str(&d.property);
        out.push_str(": ");
        // The attribute is double-quoted; CSS quotes inside become &quot;,
        // which the HTML parser turns back into '"'.
        out.push_str(&d.value.replace('"', "&quot;"));
        if d.important {
            out.push_str(" !important");
        }
    }
    out.push('"');
    match existing {
        Some(a) => {
            out.push_str(attrs[..a.whole.start].trim_end());
            out.push_str(&attrs[a.whole.end..]);
        }
        None => out.push_str(attrs),
    }
    out.push_str(&html[tag.attrs.end..tag.end]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inlines_simple_rules_by_specificity() {
        let html = r##"<html><head><style>
            p { color: red; margin: 0 }
            .lead { color: blue }
            p.lead { font-weight: bold }
            #main { padding: 4px }
            a:hover { color: green }
            @media (max-width: 600px) { p { font-size: 18px } }
        </style></head><body><div id="main"><p class="lead x" style="margin: 2px">Hi</p><p>Plain</p>
        <a href="#">link</a></div></body></html>"##;
        let out = inline_css(html);
        assert!(out.contains(r#"<div style="padding: 4px" id="main">"#), "{out}");
        assert!(out.contains(r#"<p style="color: blue; font-weight: bold; margin: 2px" class="lead x">"#), "{out}");
        assert!(out.contains(r#"<p style="color: red; margin: 0">Plain</p>"#), "{out}");
        assert!(out.contains("a:hover {color: green}"), "{out}");
        assert!(out.contains("@media (max-width: 600px) { p { font-size: 18px } }"), "{out}");
        assert_eq!(out.matches("<style").count(), 1);
    }

    #[test]
    fn template_syntax_survives_in_tables() {
        let html = "<style>td { color: red }</style><table>{% for i in items %}<tr><td class=\"{{ cls }}\">{{ i }}</td></tr>{% endfor %}</table>";
        let out = inline_css(html);
        assert_eq!(
            out,
            "<table>{% for i in items %}<tr><td style=\"color: red\" class=\"{{ cls }}\">{{ i }}</td></tr>{% endfor %}</table>"
        );
    }

    #[test]
    fn important_rules_beat_inline_style() {
        let out = inline_css(
            "<style>p { color: red !important; margin: 1px }</style><p style=\"color: blue; margin: 0\">x</p>",
        );
        assert_eq!(out, "<p style=\"margin: 0; color: red !important\">x</p>");
    }

    #[test]
    fn quotes_in_values_are_escaped_and_comments_left_alone() {
        let html = "<!--[if mso]><style>p{color:red}</style><![endif]--><style>/* c */ p { font-family: \"Helvetica Neue\", Arial }</style><p>x</p>";
        let out = inline_css(html);
        assert_eq!(
            out,
            "<!--[if mso]><style>p{color:red}</style><![endif]--><p style=\"font-family: &quot;Helvetica Neue&quot;, Arial\">x</p>"
        );
    }

    #[test]
    fn without_style_blocks_nothing_changes() {
        let html = "<p class=x>{{ a }}</p>";
        assert_eq!(inline_css(html), html);
    }

    #[test]
    fn print_media_blocks_stay() {
        let html = "<style media=\"print\">p{color:red}</style><p>x</p>";
        assert_eq!(inline_css(html), html);
    }
}
