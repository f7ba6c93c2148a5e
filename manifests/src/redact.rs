//! Credentials never land in a workspace, a manifest, a bundle, a mirror,
//! a log or an error message (SPEC §5 rule 6, issue 10). A vendor URL may
//! carry them (`https://user:TOKEN@host/…`, `?access_token=…`, a signed
//! URL's `X-Amz-Signature=…`): what ferry records or prints is the URL
//! without its user-info and with every query value replaced, while the
//! real URL is still what it downloads from.

/// `url` with its user-info replaced by `***` and every query value (and
/// the fragment) replaced by `***`. Text that is not a URL is returned as
/// it is.
#[must_use]
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let authority = match authority.rfind('@') {
        Some(at) => format!("***{}", &authority[at..]),
        None => authority.to_string(),
    };
    let (before_frag, frag) = match tail.split_once('#') {
        Some((b, _)) => (b, Some("***")),
        None => (tail, None),
    };
    let (path, query) = match before_frag.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (before_frag, None),
    };
    let mut out = format!("{scheme}://{authority}{path}");
    if let Some(q) = query {
        out.push('?');
        let parts: Vec<String> = q
            .split('&')
            .map(|kv| match kv.split_once('=') {
                Some((k, _)) => format!("{k}=***"),
                None if kv.is_empty() => String::new(),
                None => "***".to_string(),
            })
            .collect();
        out.push_str(&parts.join("&"));
    }
    if let Some(f) = frag {
        out.push('#');
        out.push_str(f);
    }
    out
}

/// Redacts every URL inside a free text (an error message of another
/// library that quotes the URL it was given).
#[must_use]
pub fn redact_urls_in(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("://") {
        // The URL starts at the scheme before "://".
        let start = rest[..i]
            .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '+' || c == '-' || c == '.'))
            .map_or(0, |p| p + 1);
        let end = rest[i..]
            .find(|c: char| c.is_whitespace() || c == ')' || c == '"' || c == '\'' || c == '>')
            .map_or(rest.len(), |p| i + p);
        out.push_str(&rest[..start]);
        out.push_str(&redact_url(&rest[start..end]));
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_removed_from_urls() {
        assert_eq!(redact_url("http://u:p@h:1/x@y"), "http://***@h:1/x@y");
        assert_eq!(redact_url("http://h/x"), "http://h/x");
        assert_eq!(redact_url("not a url"), "not a url");
        assert_eq!(
            redact_url("https://h/i.json?access_token=SECRET&v=2#frag"),
            "https://h/i.json?access_token=***&v=***#***"
        );
        assert_eq!(
            redact_urls_in("error sending request for url (https://me:TOK@h/a?token=T): boom"),
            "error sending request for url (https://***@h/a?token=***): boom"
        );
    }
}
