// Temporary: prints classify_file_json for files given on the command line.
fn main() {
    for f in std::env::args().skip(1) {
        let raw = std::fs::read(&f).expect("read");
        let r = assent_mail::inbound::parse_report(&raw);
        for v in assent_mail::inbound::classify_file_json(&f, &raw) {
            println!("{} [{}] {}", r.format, r.original.verp_token.clone().unwrap_or_default(), v);
        }
    }
}
