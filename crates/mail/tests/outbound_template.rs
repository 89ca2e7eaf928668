//! The template sandbox: no file access, bounded work, escaped contact data,
//! errors that name the part and line; and the whole per-contact pipeline
//! (render → assemble → sign).

mod outbound_support;

use assent_mail::outbound::template::DEFAULT_FUEL;
use assent_mail::outbound::{CampaignTemplate, RenderContext, TemplateError, TemplatePart, sign_all};
use outbound_support::*;
use serde_json::json;

fn attrs(value: serde_json::Value) -> serde_json::Map<String, serde_json::Value> {
    value.as_object().expect("object").clone()
}

fn ctx(attributes: &serde_json::Map<String, serde_json::Value>) -> RenderContext<'_> {
    RenderContext {
        email: "anna@example.org",
        attributes,
        unsubscribe_url: "https://app.example.com/u/TOKEN",
        preferences_url: "https://app.example.com/p/TOKEN",
        imprint: "Example Shop GmbH\nRepresented by: Erika Muster\nMain St 1, 10115 Berlin, DE",
        objection_notice: "",
    }
}

fn render_html(html: &str) -> Result<String, TemplateError> {
    let t = CampaignTemplate::compile("s", html, None)?;
    Ok(t.render(&ctx(&serde_json::Map::new()))?.html)
}

#[test]
fn endless_loop_runs_out_of_fuel() {
    let t = CampaignTemplate::compile(
        "s",
        "{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}",
        None,
    )
    .expect("compiles");
    let err = t.render(&ctx(&serde_json::Map::new())).expect_err("must stop");
    assert_eq!(err, TemplateError::OutOfFuel { part: TemplatePart::Html, line: 1 });
    assert!(err.to_string().contains("HTML body template ran out of its work budget"), "{err}");

    // range(10**9) is refused outright by the engine.
    let err = render_html("{% for i in range(10**9) %}x{% endfor %}").expect_err("must stop");
    assert_eq!(err.part(), TemplatePart::Html);

    // So is a subject that loops.
    let t = CampaignTemplate::compile("{% for i in range(99999) %}{{ i }}{% endfor %}", "", None).expect("compiles");
    let err = t.render(&ctx(&serde_json::Map::new())).expect_err("must stop");
    assert_eq!(err.part(), TemplatePart::Subject);
}

#[test]
fn recursion_is_bounded() {
    let err = render_html("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}").expect_err("must stop");
    assert_eq!(err.part(), TemplatePart::Html);
    assert!(matches!(err, TemplateError::OutOfFuel { .. } | TemplateError::Render { .. }), "unexpected {err:?}");
}

#[test]
fn huge_output_is_bounded() {
    let err = render_html("{{ 'x' * 90000000 }}").expect_err("must stop");
    assert!(matches!(err, TemplateError::OutOfFuel { .. } | TemplateError::Render { .. }), "{err:?}");
}

#[test]
fn includes_imports_and_extends_are_refused_without_reading_files() {
    for source in [
        "{% include \"/etc/passwd\" %}",
        "{%- include '/etc/passwd' -%}",
        "{% import \"/etc/passwd\" as p %}",
        "{% from \"/etc/passwd\" import x %}",
        "{% extends \"/etc/passwd\" %}",
        "{% include 'html' %}",
    ] {
        let err = CampaignTemplate::compile("s", source, None).expect_err(source);
        assert!(matches!(err, TemplateError::Forbidden { part: TemplatePart::Html, line: 1, .. }), "{source}: {err:?}");
        assert!(err.to_string().contains("cannot read other templates or files"), "{err}");
    }
    let err = CampaignTemplate::compile("s", "ok", Some("line\n{% include 'x' %}")).expect_err("text include");
    assert!(matches!(err, TemplateError::Forbidden { part: TemplatePart::Text, line: 2, .. }), "{err:?}");
}

#[test]
fn attribute_markup_is_escaped_in_html_and_kept_in_text() {
    let a = attrs(json!({"first_name": "<script>alert(1)</script>"}));
    let t = CampaignTemplate::compile(
        "Hello {{ first_name }}",
        "<p>Hello {{ first_name }} / {{ contact.first_name }}</p>",
        Some("Hello {{ first_name }}"),
    )
    .expect("compiles");
    let r = t.render(&ctx(&a)).expect("renders");
    assert!(!r.html.contains("<script>"), "{}", r.html);
    assert!(r.html.contains("&lt;script&gt;alert(1)&lt;&#x2f;script&gt;"), "{}", r.html);
    assert_eq!(r.text, "Hello <script>alert(1)</script>");
    assert_eq!(r.subject, "Hello <script>alert(1)</script>");

    // Derived text shows the text, not markup.
    let t = CampaignTemplate::compile("s", "<p>Hello {{ first_name }}</p>", None).expect("compiles");
    let r = t.render(&ctx(&a)).expect("renders");
    assert_eq!(r.text, "Hello <script>alert(1)</script>");
}

#[test]
fn contact_data_cannot_replace_built_ins() {
    let a = attrs(json!({"unsubscribe_url": "https://evil.example.net", "imprint": "fake", "email": "x@evil"}));
    let t = CampaignTemplate::compile("s", "{{ unsubscribe_url }}|{{ imprint }}|{{ email }}|{{ contact.email }}", None)
        .expect("compiles");
    let r = t.render(&ctx(&a)).expect("renders");
    assert!(r.html.starts_with("https://app.example.com/u/TOKEN|Example Shop GmbH<br>"), "{}", r.html);
    assert!(r.html.ends_with("|anna@example.org|anna@example.org"), "{}", r.html);
}

#[test]
fn imprint_and_objection_notice_render_per_part() {
    let empty = serde_json::Map::new();
    let mut c = ctx(&empty);
    c.objection_notice = "You may object at any time.\nNo costs apart from transmission.";
    c.imprint = "A & B GmbH\nMain St <1>";
    let t = CampaignTemplate::compile(
        "s",
        "<footer>{{ imprint }}<p>{{ objection_notice }}</p></footer>",
        Some("{{ imprint }}\n\n{{ objection_notice }}"),
    )
    .expect("compiles");
    let r = t.render(&c).expect("renders");
    assert_eq!(
        r.html,
        "<footer>A &amp; B GmbH<br>\nMain St &lt;1&gt;<p>You may object at any time.<br>\nNo costs apart from transmission.</p></footer>"
    );
    assert_eq!(r.text, "A & B GmbH\nMain St <1>\n\nYou may object at any time.\nNo costs apart from transmission.");
}

#[test]
fn missing_attributes_render_empty_and_defaults_work() {
    let t = CampaignTemplate::compile(
        "Hi {{ first_name|default('there') }}",
        "<p>{{ last_name }}{{ contact.address.city }}</p>{% if vip %}VIP{% endif %}",
        None,
    )
    .expect("compiles");
    let r = t.render(&ctx(&serde_json::Map::new())).expect("renders");
    assert_eq!(r.subject, "Hi there");
    assert_eq!(r.html, "<p></p>");
    let names: Vec<&str> = t.attribute_names().iter().map(String::as_str).collect();
    assert_eq!(names, ["address", "first_name", "last_name", "vip"]);
}

#[test]
fn render_errors_name_the_part_and_line() {
    let t = CampaignTemplate::compile("ok", "line 1\nline 2\n{{ 1 / 0 }}", None).expect("compiles");
    let err = t.render(&ctx(&serde_json::Map::new())).expect_err("division by zero");
    match &err {
        TemplateError::Render { part: TemplatePart::Html, line: 3, .. } => {}
        other => panic!("unexpected {other:?}"),
    }
    assert!(err.to_string().starts_with("rendering the HTML body template failed on line 3"), "{err}");

    let err = CampaignTemplate::compile("Hi {{ name", "", None).expect_err("syntax");
    assert!(matches!(err, TemplateError::Syntax { part: TemplatePart::Subject, line: 1, .. }), "{err:?}");
}

#[test]
fn subject_is_one_line() {
    let a = attrs(json!({"first_name": "Anna\r\nBcc: victim@example.net"}));
    let t = CampaignTemplate::compile("Hi\n{{ first_name }}  !\n", "", None).expect("compiles");
    let r = t.render(&ctx(&a)).expect("renders");
    assert_eq!(r.subject, "Hi Anna Bcc: victim@example.net !");
}

#[test]
fn css_is_inlined_at_compile_time() {
    let t = CampaignTemplate::compile(
        "s",
        "<style>.btn { color: #fff; background: #06c }</style><a class=\"btn\" href=\"{{ unsubscribe_url }}\">Bye</a>",
        None,
    )
    .expect("compiles");
    let r = t.render(&ctx(&serde_json::Map::new())).expect("renders");
    assert_eq!(
        r.html,
        "<a style=\"color: #fff; background: #06c\" class=\"btn\" href=\"https://app.example.com/u/TOKEN\">Bye</a>"
    );
}

/// A ~10 KB newsletter: the shape the benchmark uses too.
fn newsletter() -> String {
    let mut html = String::from(
        "<html><head><style>p { margin: 0 0 12px } .cta { color: #fff; background: #0a6 }</style></head><body>\
         <h1>Hello {{ first_name|default('there') }}!</h1>",
    );
    for i in 0..60 {
        html.push_str(&format!(
            "<p>Article {i}: Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor \
             incididunt ut labore et dolore magna aliqua, {{{{ city|default('') }}}}.</p>\n"
        ));
    }
    html.push_str(
        "<p><a class=\"cta\" href=\"https://shop.example.com/?c={{ customer_id }}\">Shop now</a></p>\
         <p>{{ imprint }}</p><p><a href=\"{{ unsubscribe_url }}\">Unsubscribe</a> · \
         <a href=\"{{ preferences_url }}\">Preferences</a></p></body></html>",
    );
    html
}

#[test]
fn ten_kb_newsletter_fits_the_default_fuel_and_signs() {
    let html = newsletter();
    assert!((9_500..12_000).contains(&html.len()), "{}", html.len());
    let t = CampaignTemplate::compile("News for {{ first_name }}", &html, None).expect("compiles");
    let a = attrs(json!({"first_name": "Anna", "city": "Köln", "customer_id": 42}));
    let r = t.render(&ctx(&a)).expect("renders within the default fuel");
    assert!(r.html.contains("Hello Anna!"));
    assert!(r.text.contains("Unsubscribe (https://app.example.com/u/TOKEN)"), "{}", r.text);

    // A quarter of the default fuel is still enough: plenty of headroom.
    let lean = CampaignTemplate::compile_with_fuel("s", &html, None, DEFAULT_FUEL / 4).expect("compiles");
    lean.render(&ctx(&a)).expect("renders with a quarter of the fuel");

    let mut sample = Sample::new();
    sample.subject = r.subject;
    sample.html = r.html;
    sample.text = r.text;
    let signers = signers();
    let body = sample.message().to_bytes().expect("assembles");
    let sigs = sign_all(&signers, &body, DATE as u64).expect("signs");
    let mut signed = sigs.into_bytes();
    signed.extend_from_slice(&body);
    assert_wire_safe(&signed);
    if python_has("dkim, nacl") {
        assert_eq!(dkimpy_verify("newsletter", &signed, &dns_records_json(&signers)), [true, true]);
    }
}

/// A template of text and plain placeholders renders by splicing; the same
/// template behind a comment (which forces the template engine) renders
/// the same text, whatever the contact's values are.
fn spliced_and_whole(subject: &str, html: &str, text: Option<&str>) -> (CampaignTemplate, CampaignTemplate) {
    let spliced = CampaignTemplate::compile(subject, html, text).expect("compiles");
    let whole = CampaignTemplate::compile(
        &format!("{{# whole #}}{subject}"),
        &format!("{{# whole #}}{html}"),
        text.map(|t| format!("{{# whole #}}{t}")).as_deref(),
    )
    .expect("compiles");
    (spliced, whole)
}

#[test]
fn simple_templates_render_by_splicing() {
    let (spliced, whole) =
        spliced_and_whole("Hi {{ first_name }}", "<p>{{ first_name }} in {{ contact.city }}</p>\n", None);
    for part in [TemplatePart::Subject, TemplatePart::Html, TemplatePart::Text] {
        assert!(spliced.renders_by_splicing(part), "{part:?}");
        assert!(!whole.renders_by_splicing(part), "{part:?}");
    }
    let (spliced, _) = spliced_and_whole("Hi {{ first_name|upper }}", "{% if vip %}VIP{% endif %}", Some("{{ x }}"));
    assert!(!spliced.renders_by_splicing(TemplatePart::Subject));
    assert!(!spliced.renders_by_splicing(TemplatePart::Html));
    assert!(spliced.renders_by_splicing(TemplatePart::Text));
}

#[test]
fn spliced_output_past_the_fuel_budget_stops_like_the_engine() {
    let html = "{{ big }}".repeat(2000);
    let t = CampaignTemplate::compile("s", &html, Some("t")).expect("compiles");
    assert!(t.renders_by_splicing(TemplatePart::Html));
    // 2000 × 2 KB = 4 MB, over the 3.2 MB the default fuel allows.
    let a = attrs(json!({"big": "x".repeat(2000)}));
    let err = t.render(&ctx(&a)).expect_err("must stop");
    assert!(matches!(err, TemplateError::OutOfFuel { part: TemplatePart::Html, .. }), "{err:?}");
    let small = attrs(json!({"big": "x".repeat(100)}));
    assert_eq!(t.render(&ctx(&small)).expect("renders").html.len(), 200_000);
}

fn attribute_value() -> impl proptest::strategy::Strategy<Value = serde_json::Value> {
    use proptest::prelude::*;
    prop_oneof![
        "\\PC{0,24}".prop_map(serde_json::Value::from),
        "[<>&\"'/ a-z\n\t]{0,24}".prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<f64>().prop_map(serde_json::Value::from),
        any::<bool>().prop_map(serde_json::Value::from),
        Just(serde_json::Value::Null),
        "[a-z<]{0,8}".prop_map(|s| json!({"city": s, "n": [1, 2]})),
    ]
}

proptest::proptest! {
    #[test]
    fn splicing_renders_what_the_engine_renders(
        first in attribute_value(),
        city in attribute_value(),
        contact in attribute_value(),
    ) {
        let (spliced, whole) = spliced_and_whole(
            "{{ first_name }} from {{ city }}",
            "<h1>Hello {{ first_name }}!</h1>\n<p>{{ city }} · {{ contact.first_name }} · {{ attributes.city }} · {{ contact.city.city }}</p>\n<p>{{ imprint }}</p><a href=\"{{ unsubscribe_url }}\">x</a> {{ email }} {{ missing }}\n",
            None,
        );
        for part in [TemplatePart::Subject, TemplatePart::Html, TemplatePart::Text] {
            proptest::prop_assert!(spliced.renders_by_splicing(part));
        }
        let a = attrs(json!({"first_name": first, "city": city, "contact": contact}));
        let (s, w) = (spliced.render(&ctx(&a)), whole.render(&ctx(&a)));
        proptest::prop_assert_eq!(s, w);
        let (spliced, whole) = spliced_and_whole("x", "y", Some("Hi {{ first_name }}, {{ city }}\r\n"));
        proptest::prop_assert_eq!(spliced.render(&ctx(&a)), whole.render(&ctx(&a)));
    }
}
