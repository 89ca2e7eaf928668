//! Parsing one command line of the client (RFC 5321 §4.1): the verb, the
//! reverse and forward paths of `MAIL FROM` / `RCPT TO` with their
//! ESMTP parameters (RFC 5321 §4.1.2, RFC 1870 `SIZE`, RFC 6152 `BODY`,
//! RFC 6531 `SMTPUTF8`). Pure and total: any line yields a command or an
//! error with the reply to send, never a panic.

/// The longest forward or reverse path (RFC 5321 §4.5.3.1.3).
pub(crate) const MAX_PATH: usize = 256;

/// A parsed command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Command {
    Ehlo(String),
    Helo(String),
    Mail {
        path: String,
        params: MailParams,
    },
    Rcpt {
        path: String,
    },
    Data,
    Rset,
    Noop,
    Quit,
    Vrfy,
    Help,
    /// Recognised, never offered here: STARTTLS, AUTH, BDAT, EXPN, TURN, ….
    NotImplemented(String),
    Unknown(String),
}

/// The `MAIL FROM` parameters this server understands.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct MailParams {
    /// RFC 1870: the size the client declares.
    pub size: Option<u64>,
}

/// Why a line is not a valid command: the reply to give.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SyntaxError {
    pub code: u16,
    pub enhanced: &'static str,
    pub text: &'static str,
}

const fn syntax(code: u16, enhanced: &'static str, text: &'static str) -> SyntaxError {
    SyntaxError { code, enhanced, text }
}

/// Parses one line without its line ending.
pub(crate) fn parse(line: &str) -> Result<Command, SyntaxError> {
    let line = line.trim_end_matches([' ', '\t']);
    let (verb, rest) = match line.find([' ', '\t', ':']) {
        Some(i) => (&line[..i], &line[i..]),
        None => (line, ""),
    };
    let verb = verb.to_ascii_uppercase();
    let arg = rest.trim_start_matches([' ', '\t']);
    match verb.as_str() {
        "EHLO" | "HELO" => {
            let name = arg.split_ascii_whitespace().next().unwrap_or("");
            if name.is_empty() || rest.starts_with(':') {
                return Err(syntax(501, "5.5.4", "say hello with your host name: EHLO name"));
            }
            let name = name.chars().filter(|c| !c.is_control()).take(255).collect();
            Ok(if verb == "EHLO" { Command::Ehlo(name) } else { Command::Helo(name) })
        }
        "MAIL" => {
            let rest =
                strip_keyword(arg, "FROM:").ok_or(syntax(501, "5.5.4", "syntax: MAIL FROM:<address> [parameters]"))?;
            let (path, params) = split_path(rest)?;
            Ok(Command::Mail { path, params: mail_params(params)? })
        }
        "RCPT" => {
            let rest =
                strip_keyword(arg, "TO:").ok_or(syntax(501, "5.5.4", "syntax: RCPT TO:<address> [parameters]"))?;
            let (path, params) = split_path(rest)?;
            if path.is_empty() {
                return Err(syntax(501, "5.1.3", "a recipient cannot be the null path"));
            }
            if !params.trim().is_empty() {
                // No RCPT parameter extension (DSN, …) is offered.
                return Err(syntax(555, "5.5.4", "RCPT TO parameters are not supported here"));
            }
            Ok(Command::Rcpt { path })
        }
        "DATA" | "RSET" | "NOOP" | "QUIT" if verb != "NOOP" && !arg.is_empty() => {
            Err(syntax(501, "5.5.4", "this command takes no argument"))
        }
        "DATA" => Ok(Command::Data),
        "RSET" => Ok(Command::Rset),
        // NOOP may carry a string, which is ignored (RFC 5321 §4.1.1.9).
        "NOOP" => Ok(Command::Noop),
        "QUIT" => Ok(Command::Quit),
        "VRFY" => Ok(Command::Vrfy),
        "HELP" => Ok(Command::Help),
        "STARTTLS" | "AUTH" | "BDAT" | "EXPN" | "TURN" | "ETRN" | "ATRN" | "SEND" | "SOML" | "SAML" => {
            Ok(Command::NotImplemented(verb))
        }
        _ => Ok(Command::Unknown(verb.chars().filter(|c| c.is_ascii_graphic()).take(32).collect())),
    }
}

/// `FROM:` / `TO:` (any case), allowing the space some clients put after
/// the colon.
fn strip_keyword<'a>(arg: &'a str, keyword: &str) -> Option<&'a str> {
    let head = arg.get(..keyword.len())?;
    head.eq_ignore_ascii_case(keyword).then(|| arg[keyword.len()..].trim_start_matches([' ', '\t']))
}

/// Splits `<path> params` into the address (without angle brackets and
/// source route) and the parameter text. A bare address without brackets is
/// tolerated, as most servers do.
fn split_path(s: &str) -> Result<(String, &str), SyntaxError> {
    let bad = syntax(501, "5.1.7", "the address must be written <local@domain>");
    let (inner, rest) = if let Some(body) = s.strip_prefix('<') {
        // The closing '>' outside a quoted local part.
        let mut quoted = false;
        let mut escaped = false;
        let mut end = None;
        for (i, c) in body.char_indices() {
            match c {
                _ if escaped => escaped = false,
                '\\' if quoted => escaped = true,
                '"' => quoted = !quoted,
                '>' if !quoted => {
                    end = Some(i);
                    break;
                }
                _ => {}
            }
        }
        let end = end.ok_or(bad.clone())?;
        (&body[..end], &body[end + 1..])
    } else {
        match s.find([' ', '\t']) {
            Some(i) => (&s[..i], &s[i..]),
            None => (s, ""),
        }
    };
    if !rest.is_empty() && !rest.starts_with([' ', '\t']) {
        return Err(bad);
    }
    // RFC 5321 §4.1.2: a source route (`@a,@b:user@c`) is accepted and ignored.
    let inner = match inner.strip_prefix('@') {
        Some(_) => inner.split_once(':').map(|(_, a)| a).ok_or(bad.clone())?,
        None => inner,
    };
    if inner.len() > MAX_PATH {
        return Err(syntax(501, "5.1.3", "the address is too long (RFC 5321 allows 256 octets)"));
    }
    if inner.chars().any(|c| c.is_control() || c == '<' || c == '>') {
        return Err(bad);
    }
    if !inner.is_empty() {
        let (local, domain) = inner.rsplit_once('@').ok_or(bad.clone())?;
        if local.is_empty() || domain.is_empty() || domain.contains([' ', '\t']) {
            return Err(bad);
        }
    }
    Ok((inner.to_string(), rest))
}

fn mail_params(text: &str) -> Result<MailParams, SyntaxError> {
    let mut params = MailParams::default();
    for word in text.split_ascii_whitespace() {
        let (key, value) = match word.split_once('=') {
            Some((k, v)) => (k, Some(v)),
            None => (word, None),
        };
        match (key.to_ascii_uppercase().as_str(), value) {
            ("SIZE", Some(v)) => {
                params.size =
                    Some(v.parse().map_err(|_| syntax(501, "5.5.4", "SIZE takes a number of octets (RFC 1870)"))?);
            }
            ("BODY", Some(v)) if v.eq_ignore_ascii_case("7BIT") || v.eq_ignore_ascii_case("8BITMIME") => {}
            ("SMTPUTF8", None) => {}
            // RFC 4954 §5: clients may pass on AUTH=<> even where no AUTH is offered.
            ("AUTH", Some(_)) => {}
            _ => return Err(syntax(555, "5.5.4", "unsupported MAIL FROM parameter")),
        }
    }
    Ok(params)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mail(path: &str) -> Command {
        Command::Mail { path: path.into(), params: MailParams::default() }
    }

    #[test]
    fn verbs_any_case_and_arguments() {
        assert_eq!(parse("ehlo client.example"), Ok(Command::Ehlo("client.example".into())));
        assert_eq!(parse("HELO [192.0.2.1]"), Ok(Command::Helo("[192.0.2.1]".into())));
        assert!(parse("EHLO").is_err());
        assert_eq!(parse("Data"), Ok(Command::Data));
        assert_eq!(parse("NOOP anything"), Ok(Command::Noop));
        assert!(parse("QUIT now").is_err());
        assert_eq!(parse("STARTTLS"), Ok(Command::NotImplemented("STARTTLS".into())));
        assert_eq!(parse("XYZZY plugh"), Ok(Command::Unknown("XYZZY".into())));
    }

    #[test]
    fn paths_and_parameters() {
        assert_eq!(parse("MAIL FROM:<>"), Ok(mail("")));
        assert_eq!(parse("mail from: <a@b.example>"), Ok(mail("a@b.example")));
        assert_eq!(parse("MAIL FROM:a@b.example"), Ok(mail("a@b.example")));
        assert_eq!(
            parse("MAIL FROM:<a@b.example> SIZE=1000 BODY=8BITMIME SMTPUTF8"),
            Ok(Command::Mail { path: "a@b.example".into(), params: MailParams { size: Some(1000) } })
        );
        assert_eq!(parse("MAIL FROM:<a@b.example> X=1").map_err(|e| e.code), Err(555));
        assert_eq!(parse("MAIL FROM:<a@b.example> SIZE=x").map_err(|e| e.code), Err(501));
        assert_eq!(
            parse("RCPT TO:<@relay.example:bounces+t@bounce.example>"),
            Ok(Command::Rcpt { path: "bounces+t@bounce.example".into() })
        );
        assert_eq!(parse("RCPT TO:<\"a b\"@x.example>"), Ok(Command::Rcpt { path: "\"a b\"@x.example".into() }));
        // A quoted '>' does not end the path, but no such address is taken.
        assert!(parse("RCPT TO:<\"a>b\"@x.example>").is_err());
        assert!(parse("RCPT TO:<>").is_err());
        assert!(parse("RCPT TO:<a@b.example> NOTIFY=NEVER").is_err());
        assert!(parse("RCPT TO:<a@b.example").is_err());
        assert!(parse("RCPT TO:<a@b.example>x").is_err());
        assert!(parse("RCPT TO:<nobody>").is_err());
        assert!(parse("RCPT TO:<a\u{0}@b.example>").is_err());
        assert!(parse("RCPT <a@b.example>").is_err());
        let long = format!("RCPT TO:<{}@b.example>", "a".repeat(300));
        assert_eq!(parse(&long).map_err(|e| e.enhanced), Err("5.1.3"));
    }

    proptest::proptest! {
        #[test]
        fn never_panics(line in "\\PC{0,300}") {
            let _ = parse(&line);
        }

        #[test]
        fn never_panics_on_mail_like_lines(tail in "[<>\"@:, a-zA-Z=\\\\]{0,80}") {
            let _ = parse(&format!("MAIL FROM:{tail}"));
            let _ = parse(&format!("RCPT TO:{tail}"));
        }
    }
}
