use std::hint::black_box;
fn main() {
    let mut html = String::from("<html><head></head><body><h1>Hello Anna!</h1><p>This month's offers for K&ouml;ln.</p>");
    for i in 0..48 {
        html.push_str(&format!("<p style=\"margin: 0 0 12px\">Article {i}: Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore et dolore magna aliqua. Ut enim ad minim veniam, quis nostrud.</p>\n"));
    }
    html.push_str("<p><a class=\"cta\" style=\"color: #fff; background: #0a6\" href=\"https://shop.example.com/?c=3\">Shop now</a></p><p>Imprint<br>\nline</p><p><a href=\"https://x/u/t\">Unsubscribe</a> · <a href=\"https://x/p/t\">Preferences</a></p></body></html>");
    let t = std::time::Instant::now();
    for _ in 0..300_000 { black_box(assent_mail::outbound::text::html_to_text(black_box(&html))); }
    println!("{:.2} µs for {} B", t.elapsed().as_secs_f64() * 1e6 / 300_000.0, html.len());
}
