//! Campaign templates: a subject, an HTML body and an optional text body in
//! minijinja syntax, compiled once per campaign and rendered per contact.
//!
//! The sandbox: templates come from customers, so
//! * there is no loader — nothing can be read from disk — and `include`,
//!   `import`, `from` and `extends` are refused at compile time (a campaign
//!   is one self-contained template per part);
//! * every render has a fuel budget ([`DEFAULT_FUEL`]) covering instructions
//!   and produced bytes, so endless loops, deep recursion and huge outputs
//!   stop with [`TemplateError::OutOfFuel`] (or a recursion error) instead of
//!   stalling a worker;
//! * the HTML part autoescapes every value; subject and text do not (they
//!   are not HTML). `{{ x|safe }}` is the template author's explicit choice.
//!
//! Variables: `email`, every contact attribute by name (`first_name`, …),
//! the same under `contact.` (with `contact.email`) and `attributes.`
//! (without email), and the built-ins `unsubscribe_url`, `preferences_url`,
//! `imprint` and `objection_notice`. Built-ins win over attributes of the
//! same name, so contact data can never replace the unsubscribe link. In
//! HTML, `imprint` and `objection_notice` are escaped text with `<br>` line
//! breaks.
//!
//! Undefined values are *chainable*: a missing attribute renders as empty
//! text (also `contact.address.city` when `address` is missing), iterates
//! as empty and is false in `{% if %}`; write `{{ first_name|default("there")
//! }}` for a fallback. This is deliberately lenient because attributes vary
//! per contact and one missing field must not stop a campaign; mistyped
//! names are caught by the preflight, which sees
//! [`CampaignTemplate::attribute_names`] and the rendered sample.

use std::collections::BTreeSet;
use std::fmt;
use std::sync::Arc;

use minijinja::syntax::SyntaxConfig;
use minijinja::value::{Object, Value};
use minijinja::{AutoEscape, Environment, ErrorKind, UndefinedBehavior};
use thiserror::Error;

use super::splice::Spliced;
use super::{css, text};

/// Fuel per render and part: about 50 000 template instructions or 3 MB of
/// produced text, far above what a 100 KB newsletter needs.
pub const DEFAULT_FUEL: u64 = 50_000;
/// Longest template source accepted for the HTML and text parts.
pub const MAX_BODY_SOURCE: usize = 512 * 1024;
/// Longest template source accepted for the subject.
pub const MAX_SUBJECT_SOURCE: usize = 4 * 1024;
/// Longest rendered subject, in bytes (one RFC 5322 line).
pub const MAX_SUBJECT: usize = 998;
/// Recursion limit for macros and nested blocks.
const RECURSION_LIMIT: usize = 100;

/// Names a template part in errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TemplatePart {
    Subject,
    Html,
    Text,
}

impl TemplatePart {
    /// The template name inside the environment.
    fn name(self) -> &'static str {
        match self {
            TemplatePart::Subject => "subject",
            TemplatePart::Html => "html",
            TemplatePart::Text => "text",
        }
    }
}

impl fmt::Display for TemplatePart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TemplatePart::Subject => "subject",
            TemplatePart::Html => "HTML body",
            TemplatePart::Text => "text body",
        })
    }
}

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum TemplateError {
    #[error("the {part} template has an error on line {line}: {detail}; fix the template syntax")]
    Syntax { part: TemplatePart, line: usize, detail: String },
    #[error(
        "the {part} template uses `{tag}` on line {line}, which campaign templates cannot do: they cannot read other templates or files; put everything into this template"
    )]
    Forbidden { part: TemplatePart, tag: String, line: usize },
    #[error("the {part} template is {len} bytes long; at most {max} are allowed, make it shorter")]
    TooLarge { part: TemplatePart, len: usize, max: usize },
    #[error(
        "rendering the {part} template ran out of its work budget (line {line}); remove endless or very large loops and recursion"
    )]
    OutOfFuel { part: TemplatePart, line: usize },
    #[error(
        "rendering the {part} template failed on line {line}: {detail}; check the template against this contact's data"
    )]
    Render { part: TemplatePart, line: usize, detail: String },
    #[error("the subject renders to {len} bytes for this contact; keep it under {MAX_SUBJECT} bytes")]
    SubjectTooLong { len: usize },
}

impl TemplateError {
    /// The part the error is in.
    pub fn part(&self) -> TemplatePart {
        match self {
            TemplateError::Syntax { part, .. }
            | TemplateError::Forbidden { part, .. }
            | TemplateError::TooLarge { part, .. }
            | TemplateError::OutOfFuel { part, .. }
            | TemplateError::Render { part, .. } => *part,
            TemplateError::SubjectTooLong { .. } => TemplatePart::Subject,
        }
    }

    fn from_minijinja(part: TemplatePart, err: &minijinja::Error, compiling: bool) -> TemplateError {
        let line = err.line().unwrap_or(0);
        let detail = match err.detail() {
            Some(detail) => format!("{}: {detail}", err.kind()),
            None => err.kind().to_string(),
        };
        match err.kind() {
            ErrorKind::OutOfFuel => TemplateError::OutOfFuel { part, line },
            _ if compiling => TemplateError::Syntax { part, line, detail },
            _ => TemplateError::Render { part, line, detail },
        }
    }
}

/// Per-contact values for one render.
#[derive(Debug, Clone, Copy)]
pub struct RenderContext<'a> {
    pub email: &'a str,
    /// The contact's attributes (`first_name`, …) as stored.
    pub attributes: &'a serde_json::Map<String, serde_json::Value>,
    pub unsubscribe_url: &'a str,
    pub preferences_url: &'a str,
    /// The account's imprint as plain text (lines separated by `\n`).
    pub imprint: &'a str,
    /// The objection notice for purchase-origin contacts, empty otherwise.
    pub objection_notice: &'a str,
}

/// The rendered parts for one contact.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Rendered {
    /// One line, white space collapsed, at most [`MAX_SUBJECT`] bytes.
    pub subject: String,
    pub html: String,
    /// The text template's output, or text derived from `html`.
    pub text: String,
}

/// A campaign's compiled templates. Compile once, render per contact; it is
/// `Send + Sync`, so render workers can share one.
pub struct CampaignTemplate {
    env: Environment<'static>,
    text: TextPart,
    attribute_names: BTreeSet<String>,
    /// Parts rendered by splicing (see [`super::splice`]).
    spliced: Vec<SplicedPart>,
    fuel: u64,
}

/// A part rendered by splicing: its pieces and the names of the
/// one-placeholder templates that render its slots.
struct SplicedPart {
    part: TemplatePart,
    spliced: Spliced,
    slot_templates: Vec<String>,
}

impl fmt::Debug for CampaignTemplate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CampaignTemplate").field("text", &self.text).finish_non_exhaustive()
    }
}

/// Names every render provides; anything else a template reads is taken to
/// be a contact attribute.
const BUILT_INS: [&str; 7] =
    ["email", "contact", "attributes", "unsubscribe_url", "preferences_url", "imprint", "objection_notice"];

impl CampaignTemplate {
    /// Compiles the parts with [`DEFAULT_FUEL`]. The HTML has its
    /// `<style>` rules inlined first ([`css::inline_css`]).
    pub fn compile(subject: &str, html: &str, text: Option<&str>) -> Result<CampaignTemplate, TemplateError> {
        CampaignTemplate::compile_with_fuel(subject, html, text, DEFAULT_FUEL)
    }

    /// Like [`CampaignTemplate::compile`] with a different fuel budget per
    /// render and part.
    pub fn compile_with_fuel(
        subject: &str,
        html: &str,
        text: Option<&str>,
        fuel: u64,
    ) -> Result<CampaignTemplate, TemplateError> {
        let mut env = Environment::new();
        // The HTML part and its placeholder templates (`html:first_name`)
        // escape; the others do not.
        env.set_auto_escape_callback(|name| {
            if name == "html" || name.starts_with("html:") { AutoEscape::Html } else { AutoEscape::None }
        });
        env.set_undefined_behavior(UndefinedBehavior::Chainable);
        env.set_fuel(Some(fuel));
        env.set_recursion_limit(RECURSION_LIMIT);
        // No loader is set: a name that is not one of our parts is "not
        // found", never a path.

        let inlined = css::inline_css(html);
        let mut parts = vec![(TemplatePart::Subject, subject.to_owned()), (TemplatePart::Html, inlined.clone())];
        if let Some(text) = text {
            parts.push((TemplatePart::Text, text.to_owned()));
        }
        for (part, source) in parts {
            let max = if part == TemplatePart::Subject { MAX_SUBJECT_SOURCE } else { MAX_BODY_SOURCE };
            if source.len() > max {
                return Err(TemplateError::TooLarge { part, len: source.len(), max });
            }
            check_forbidden_tags(part, &source)?;
            env.add_template_owned(part.name(), source).map_err(|e| TemplateError::from_minijinja(part, &e, true))?;
        }

        let mut attribute_names = BTreeSet::new();
        for part in [TemplatePart::Subject, TemplatePart::Html, TemplatePart::Text] {
            let Ok(tmpl) = env.get_template(part.name()) else {
                continue;
            };
            for var in tmpl.undeclared_variables(true) {
                let name = var
                    .strip_prefix("contact.")
                    .or_else(|| var.strip_prefix("attributes."))
                    .unwrap_or(&var)
                    .split('.')
                    .next()
                    .unwrap_or_default()
                    .to_owned();
                let top = var.split('.').next().unwrap_or_default();
                let is_global = env.globals().any(|(g, _)| g == top);
                if !is_global && !BUILT_INS.contains(&name.as_str()) && !name.is_empty() {
                    attribute_names.insert(name);
                }
            }
        }
        let mut template = CampaignTemplate { env, text: TextPart::Given, attribute_names, spliced: Vec::new(), fuel };
        if text.is_none() {
            template.text = TextPart::FromRenderedHtml;
            template.derive_text(&inlined);
        }
        template.splice_parts();
        Ok(template)
    }

    /// Derives a text template from the HTML template once, instead of
    /// converting every rendered message (the largest cost of rendering).
    /// Taken only when the template's expressions are plain (no markup
    /// characters in them, which the conversion would treat as HTML) and,
    /// for sample contacts of every attribute shape, it gives exactly what
    /// converting the rendered HTML gives.
    fn derive_text(&mut self, html: &str) {
        if !expressions_are_plain(html) {
            return;
        }
        let derived = text::html_to_text(html);
        // A block tag on a line of its own (`{% for %}`, `{% endif %}`)
        // takes its line break with it, as its tags did in the HTML. The
        // setting applies to templates added from here on: only this one.
        if let Ok(syntax) = SyntaxConfig::builder().trim_blocks(true).lstrip_blocks(true).build() {
            self.env.set_syntax(syntax);
        }
        if self.env.add_template_owned(TemplatePart::Text.name(), derived).is_err() {
            return;
        }
        self.text = TextPart::Derived;
        let shapes = self.sample_attributes();
        for ctx in sample_contexts(&shapes) {
            let same = match (self.render_derived(&ctx), self.render_converted(&ctx)) {
                (Ok(a), Ok(b)) => a == b,
                // A render error shows in either path; nothing to compare.
                _ => true,
            };
            if !same {
                self.env.remove_template(TemplatePart::Text.name());
                self.text = TextPart::FromRenderedHtml;
                return;
            }
        }
    }

    /// Attribute maps of every shape a contact's values take (text with
    /// markup, missing, number, boolean), for comparing two ways of
    /// rendering before relying on one.
    fn sample_attributes(&self) -> [serde_json::Map<String, serde_json::Value>; 4] {
        let names = &self.attribute_names;
        [
            names.iter().map(|n| (n.clone(), serde_json::json!(format!("Sample {n} & <b>Co</b>")))).collect(),
            serde_json::Map::new(),
            names.iter().map(|n| (n.clone(), serde_json::json!(42))).collect(),
            names.iter().map(|n| (n.clone(), serde_json::json!(true))).collect(),
        ]
    }

    /// Sets up splicing for every part that is only text and plain
    /// placeholders, and keeps it where it renders exactly what the whole
    /// template renders for the sample contacts.
    fn splice_parts(&mut self) {
        let parts = [TemplatePart::Subject, TemplatePart::Html, TemplatePart::Text];
        for part in parts {
            let Some(spliced) = self.env.get_template(part.name()).ok().and_then(|t| Spliced::parse(t.source())) else {
                continue;
            };
            let mode = if part == TemplatePart::Html { "html" } else { "plain" };
            let mut slot_templates = Vec::with_capacity(spliced.slots().len());
            for path in spliced.slots() {
                let name = format!("{mode}:{path}");
                if self.env.get_template(&name).is_err()
                    && self.env.add_template_owned(name.clone(), format!("{{{{ {path} }}}}")).is_err()
                {
                    break;
                }
                slot_templates.push(name);
            }
            if slot_templates.len() == spliced.slots().len() {
                self.spliced.push(SplicedPart { part, spliced, slot_templates });
            }
        }
        let shapes = self.sample_attributes();
        let contexts = sample_contexts(&shapes);
        let candidates = std::mem::take(&mut self.spliced);
        let same = |s: &SplicedPart| {
            contexts.iter().all(|ctx| {
                let values = Arc::new(ContextValues::new(ctx));
                let root = Value::from_object(Root { values, html: s.part == TemplatePart::Html });
                match (self.render_whole(s.part, root.clone()), self.render_spliced(s, root)) {
                    (Ok(whole), Some(spliced)) => whole == spliced,
                    _ => false,
                }
            })
        };
        let kept = candidates.into_iter().filter(same).collect();
        self.spliced = kept;
    }

    fn render_derived(&self, ctx: &RenderContext<'_>) -> Result<String, TemplateError> {
        let values = Arc::new(ContextValues::new(ctx));
        let text = self.render_part(TemplatePart::Text, Value::from_object(Root { values, html: false }))?;
        Ok(text::tidy(&text))
    }

    fn render_converted(&self, ctx: &RenderContext<'_>) -> Result<String, TemplateError> {
        let values = Arc::new(ContextValues::new(ctx));
        let html = self.render_part(TemplatePart::Html, Value::from_object(Root { values, html: true }))?;
        Ok(text::html_to_text(&html))
    }

    /// Whether a text template was given (otherwise text is derived from
    /// the HTML).
    pub fn has_text_template(&self) -> bool {
        self.text == TextPart::Given
    }

    /// Whether the text part comes from a text template derived from the
    /// HTML once (rather than from converting each rendered message).
    pub fn text_is_derived_once(&self) -> bool {
        self.text == TextPart::Derived
    }

    /// Whether `part` renders by splicing text and placeholder values
    /// (the template is only text and plain `{{ name }}` placeholders)
    /// rather than through the template engine as a whole.
    pub fn renders_by_splicing(&self, part: TemplatePart) -> bool {
        self.spliced.iter().any(|s| s.part == part)
    }

    /// Contact attribute names the templates read (`first_name` for
    /// `{{ first_name }}`, `{{ contact.first_name }}` or
    /// `{{ attributes.first_name }}`), for the preflight to compare with the
    /// attributes contacts actually have.
    pub fn attribute_names(&self) -> &BTreeSet<String> {
        &self.attribute_names
    }

    /// Renders all parts for one contact.
    pub fn render(&self, ctx: &RenderContext<'_>) -> Result<Rendered, TemplateError> {
        let values = Arc::new(ContextValues::new(ctx));
        let plain = Value::from_object(Root { values: values.clone(), html: false });
        let html_root = Value::from_object(Root { values, html: true });

        let raw_subject = self.render_part(TemplatePart::Subject, plain.clone())?;
        let subject = single_line(&raw_subject);
        if subject.len() > MAX_SUBJECT {
            return Err(TemplateError::SubjectTooLong { len: subject.len() });
        }
        let html = self.render_part(TemplatePart::Html, html_root)?;
        let text = match self.text {
            TextPart::Given => self.render_part(TemplatePart::Text, plain)?,
            TextPart::Derived => text::tidy(&self.render_part(TemplatePart::Text, plain)?),
            TextPart::FromRenderedHtml => text::html_to_text(&html),
        };
        Ok(Rendered { subject, html, text })
    }

    fn render_part(&self, part: TemplatePart, ctx: Value) -> Result<String, TemplateError> {
        if let Some(rendered) =
            self.spliced.iter().find(|s| s.part == part).and_then(|s| self.render_spliced(s, ctx.clone()))
        {
            return Ok(rendered);
        }
        self.render_whole(part, ctx)
    }

    fn render_whole(&self, part: TemplatePart, ctx: Value) -> Result<String, TemplateError> {
        let tmpl = self.env.get_template(part.name()).map_err(|e| TemplateError::from_minijinja(part, &e, false))?;
        tmpl.render(ctx).map_err(|e| TemplateError::from_minijinja(part, &e, false))
    }

    /// The part rendered by splicing, or `None` when a placeholder fails or
    /// the whole template could come near its fuel budget: the whole
    /// template then renders and reports exactly what minijinja reports.
    fn render_spliced(&self, s: &SplicedPart, ctx: Value) -> Option<String> {
        let mut values = Vec::with_capacity(s.slot_templates.len());
        for name in &s.slot_templates {
            values.push(self.env.get_template(name).ok()?.render(ctx.clone()).ok()?);
        }
        let rendered = s.spliced.assemble(&values);
        // minijinja's units: 64 per instruction, 1 per byte written; a
        // margin of 16 instructions for its own start and end.
        let units = (s.spliced.instructions() + 16) * 64 + rendered.len() as u64;
        (units < self.fuel.saturating_mul(64)).then_some(rendered)
    }
}

/// A sample contact per attribute map, with and without an objection
/// notice.
fn sample_contexts(shapes: &[serde_json::Map<String, serde_json::Value>]) -> Vec<RenderContext<'_>> {
    shapes
        .iter()
        .flat_map(|attrs| ["", "You may object at any time:\nhttps://example.org/u/x"].map(|notice| (attrs, notice)))
        .map(|(attributes, objection_notice)| RenderContext {
            email: "sample@example.org",
            attributes,
            unsubscribe_url: "https://example.org/u/SAMPLE",
            preferences_url: "https://example.org/p/SAMPLE",
            imprint: "Sample GmbH\nMain St 1 & 2, 10115 Berlin",
            objection_notice,
        })
        .collect()
}

/// Refuses `{% include %}`, `{% import %}`, `{% from %}` and
/// `{% extends %}`. The scan is conservative: the same words inside a
/// `{% raw %}` block or a comment are refused too.
fn check_forbidden_tags(part: TemplatePart, source: &str) -> Result<(), TemplateError> {
    let mut pos = 0;
    while let Some(open) = source[pos..].find("{%").map(|p| pos + p) {
        let rest = source[open + 2..].trim_start_matches(['-', '+', '~']).trim_start();
        let word_len = rest.find(|c: char| !c.is_ascii_alphabetic()).unwrap_or(rest.len());
        let word = &rest[..word_len];
        if ["include", "import", "from", "extends"].contains(&word) {
            let line = source[..open].matches('\n').count() + 1;
            return Err(TemplateError::Forbidden { part, tag: format!("{{% {word} %}}"), line });
        }
        pos = open + 2;
    }
    Ok(())
}

/// Collapses all white space (line breaks included) to single spaces.
fn single_line(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for word in s.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    // Other control characters cannot be displayed in a subject either.
    if out.chars().any(char::is_control) {
        out = out.chars().filter(|c| !c.is_control()).collect();
    }
    out
}

/// Where a campaign's text part comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TextPart {
    /// The campaign's own text template.
    Given,
    /// A text template derived from the HTML template at compile time.
    Derived,
    /// Each rendered HTML converted ([`text::html_to_text`]).
    FromRenderedHtml,
}

/// Whether no `{{ … }}`, `{% … %}` or `{# … #}` of a template holds `<`,
/// `>` or `&`: converting the template to text then leaves every
/// expression as written.
fn expressions_are_plain(source: &str) -> bool {
    let mut rest = source;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let close = match after.as_bytes().first() {
            Some(b'{') => "}}",
            Some(b'%') => "%}",
            Some(b'#') => "#}",
            _ => {
                rest = after;
                continue;
            }
        };
        let Some(end) = after.find(close) else { return false };
        if after[..end].contains(['<', '>', '&']) {
            return false;
        }
        rest = &after[end + close.len()..];
    }
    true
}

/// Values shared by the HTML and the plain root of one render.
#[derive(Debug)]
struct ContextValues {
    email: Value,
    contact: Value,
    attributes: Value,
    unsubscribe_url: Value,
    preferences_url: Value,
    imprint_text: Value,
    imprint_html: Value,
    objection_text: Value,
    objection_html: Value,
}

impl ContextValues {
    fn new(ctx: &RenderContext<'_>) -> ContextValues {
        let attrs: Vec<(Value, Value)> =
            ctx.attributes.iter().map(|(k, v)| (Value::from(k.as_str()), json_to_value(v))).collect();
        let email = Value::from(ctx.email);
        let contact = Value::from_pairs(
            attrs
                .iter()
                .filter(|(k, _)| k.as_str() != Some("email"))
                .cloned()
                .chain([(Value::from("email"), email.clone())]),
        );
        ContextValues {
            email,
            contact,
            attributes: Value::from_pairs(attrs),
            unsubscribe_url: url_value(ctx.unsubscribe_url),
            preferences_url: url_value(ctx.preferences_url),
            imprint_text: Value::from(ctx.imprint),
            imprint_html: Value::from_safe_string(crate::html::escape_lines(ctx.imprint)),
            objection_text: Value::from(ctx.objection_notice),
            objection_html: Value::from_safe_string(crate::html::escape_lines(ctx.objection_notice)),
        }
    }
}

/// Our own link URLs need no escaping in HTML when they hold no markup
/// characters; keeping them verbatim (not `https:&#x2f;&#x2f;…`) keeps the
/// HTML readable and lets the preflight find them as written.
fn url_value(url: &str) -> Value {
    if url.contains(['<', '>', '"', '\'', '&']) { Value::from(url) } else { Value::from_safe_string(url.to_owned()) }
}

/// The top-level context: built-ins first, then attributes by name.
#[derive(Debug)]
struct Root {
    values: Arc<ContextValues>,
    html: bool,
}

impl Object for Root {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let v = &self.values;
        let key = key.as_str()?;
        Some(match key {
            "email" => v.email.clone(),
            "contact" => v.contact.clone(),
            "attributes" => v.attributes.clone(),
            "unsubscribe_url" => v.unsubscribe_url.clone(),
            "preferences_url" => v.preferences_url.clone(),
            "imprint" if self.html => v.imprint_html.clone(),
            "imprint" => v.imprint_text.clone(),
            "objection_notice" if self.html => v.objection_html.clone(),
            "objection_notice" => v.objection_text.clone(),
            _ => return v.attributes.get_attr(key).ok().filter(|x| !x.is_undefined()),
        })
    }
}

fn json_to_value(v: &serde_json::Value) -> Value {
    match v {
        serde_json::Value::Null => Value::from(()),
        serde_json::Value::Bool(b) => Value::from(*b),
        serde_json::Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::from(i)
            } else if let Some(u) = n.as_u64() {
                Value::from(u)
            } else {
                Value::from(n.as_f64().unwrap_or(f64::NAN))
            }
        }
        serde_json::Value::String(s) => Value::from(s.as_str()),
        serde_json::Value::Array(items) => items.iter().map(json_to_value).collect(),
        serde_json::Value::Object(map) => Value::from_pairs(map.iter().map(|(k, v)| (k.as_str(), json_to_value(v)))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(attrs: &serde_json::Map<String, serde_json::Value>) -> RenderContext<'_> {
        RenderContext {
            email: "anna@example.org",
            attributes: attrs,
            unsubscribe_url: "https://example.com/u/T",
            preferences_url: "https://example.com/p/T",
            imprint: "Shop GmbH\nMain St 1 & Co",
            objection_notice: "",
        }
    }

    #[test]
    fn renders_attributes_builtins_and_escapes_html_only() {
        let attrs = serde_json::json!({"first_name": "<b>Anna</b>", "unsubscribe_url": "https://evil.example"});
        let attrs = attrs.as_object().expect("object").clone();
        let t = CampaignTemplate::compile(
            "Hi {{ first_name }}\n!",
            "<p>{{ contact.first_name }} {{ email }}</p><p>{{ imprint }}</p><a href=\"{{ unsubscribe_url }}\">u</a>",
            Some("{{ attributes.first_name }} {{ imprint }} {{ missing.deeper }}"),
        )
        .expect("compiles");
        let r = t.render(&ctx(&attrs)).expect("renders");
        assert_eq!(r.subject, "Hi <b>Anna</b> !");
        assert_eq!(
            r.html,
            "<p>&lt;b&gt;Anna&lt;&#x2f;b&gt; anna@example.org</p><p>Shop GmbH<br>\nMain St 1 &amp; Co</p><a href=\"https://example.com/u/T\">u</a>"
        );
        assert_eq!(r.text, "<b>Anna</b> Shop GmbH\nMain St 1 & Co ");
        let names: Vec<_> = t.attribute_names().iter().cloned().collect();
        assert_eq!(names, ["first_name", "missing"]);
    }

    #[test]
    fn forbidden_tags_name_part_and_line() {
        let err = CampaignTemplate::compile("s", "<p>\n{%- include 'x' %}", None).expect_err("include");
        assert_eq!(err, TemplateError::Forbidden { part: TemplatePart::Html, tag: "{% include %}".into(), line: 2 });
    }

    #[test]
    fn syntax_errors_name_part_and_line() {
        let err = CampaignTemplate::compile("ok", "fine", Some("a\nb\n{% if %}")).expect_err("syntax");
        match err {
            TemplateError::Syntax { part: TemplatePart::Text, line: 3, .. } => {}
            other => panic!("unexpected {other:?}"),
        }
        assert!(err_text("{{ x ").contains("subject template has an error on line 1"));
    }

    fn err_text(subject: &str) -> String {
        CampaignTemplate::compile(subject, "", None).expect_err("fails").to_string()
    }

    #[test]
    fn derived_text_keeps_links() {
        let t = CampaignTemplate::compile("s", "<p>Bye: <a href=\"{{ unsubscribe_url }}\">unsubscribe</a></p>", None)
            .expect("compiles");
        let attrs = serde_json::Map::new();
        let r = t.render(&ctx(&attrs)).expect("renders");
        assert_eq!(r.text, "Bye: unsubscribe (https://example.com/u/T)");
    }

    #[test]
    fn long_subject_is_refused() {
        let t = CampaignTemplate::compile("{{ 'x' * 1000 }}", "", None).expect("compiles");
        let attrs = serde_json::Map::new();
        assert_eq!(t.render(&ctx(&attrs)), Err(TemplateError::SubjectTooLong { len: 1000 }));
    }

    /// Renders with the derived text template and by converting the
    /// rendered HTML; both must agree for the contacts given.
    fn both_ways(t: &CampaignTemplate, attrs: &serde_json::Map<String, serde_json::Value>) -> (String, String) {
        let c = ctx(attrs);
        (t.render_derived(&c).expect("derived"), t.render_converted(&c).expect("converted"))
    }

    #[test]
    fn text_is_derived_once_for_plain_templates() {
        let html = "<html><head><style>p{color:red}</style></head><body><h1>Hello {{ first_name|default('there') }}!</h1>\
                    <p>Offers for {{ city }}.</p>{% if vip %}<p>VIP: free shipping.</p>{% endif %}\
                    <table>{% for i in range(3) %}<tr><td>Item {{ i }}</td><td>{{ first_name }}</td></tr>{% endfor %}</table>\
                    <p>{{ imprint }}</p><p><a href=\"{{ unsubscribe_url }}\">Unsubscribe</a></p></body></html>";
        let t = CampaignTemplate::compile("s", html, None).expect("compiles");
        assert!(t.text_is_derived_once());
        assert!(!t.has_text_template());
        for attrs in [
            serde_json::json!({"first_name": "Ann", "city": "Köln", "vip": true}),
            serde_json::json!({"first_name": "A  <i>b</i> & c", "vip": false}),
            serde_json::json!({}),
        ] {
            let attrs = attrs.as_object().cloned().unwrap_or_default();
            let (derived, converted) = both_ways(&t, &attrs);
            assert_eq!(derived, converted);
            assert_eq!(t.render(&ctx(&attrs)).expect("renders").text, converted);
        }
    }

    #[test]
    fn markup_in_expressions_or_diverging_blocks_convert_per_message() {
        // `<b>` inside an expression would be taken for a tag.
        let t = CampaignTemplate::compile("s", "<p>{{ name|replace('<b>', '') }}</p>", None).expect("compiles");
        assert!(!t.text_is_derived_once());
        // `<pre>` keeps its white space; the derived text would not.
        let t = CampaignTemplate::compile("s", "<pre>  {{ name }}\n    x</pre>", None).expect("compiles");
        assert!(!t.text_is_derived_once());
        let attrs = serde_json::json!({"name": "a   b"}).as_object().cloned().unwrap_or_default();
        assert_eq!(t.render(&ctx(&attrs)).expect("renders").text, "a   b\n    x");
        // Blocks between block elements keep the conversion's line breaks.
        let t = CampaignTemplate::compile("s", "<div>A</div>{% if vip %}<div>B</div>{% endif %}<div>C</div>", None)
            .expect("compiles");
        assert!(t.text_is_derived_once());
        let none = serde_json::Map::new();
        assert_eq!(t.render(&ctx(&none)).expect("renders").text, "A\nC");
        let vip = serde_json::json!({"vip": true}).as_object().cloned().unwrap_or_default();
        assert_eq!(t.render(&ctx(&vip)).expect("renders").text, "A\nB\nC");
        // A text template of its own is used as given.
        let t = CampaignTemplate::compile("s", "<p>x</p>", Some("y")).expect("compiles");
        assert!(t.has_text_template() && !t.text_is_derived_once());
    }

    #[test]
    fn tidy_collapses_like_the_html_conversion() {
        assert_eq!(text::tidy("\n\n  Hello \t world  \n\n\n\nBye \r\n\n"), "Hello world\n\nBye");
        assert_eq!(text::tidy("a\nb"), "a\nb");
        assert_eq!(text::tidy("   \n \n"), "");
    }
}
