//! Passwords in database URLs: where one can hide, and the URL with each replaced by `***`. Every
//! message that shows a warehouse URL shows [`redacted`]; deploy.toml refuses a URL for which
//! [`has_password`] holds.
//!
//! A password hides in the userinfo (`postgres://user:password@host/db`; tokio-postgres reads up to
//! the first `@`, a URL parser up to the last `@` before the query, so both readings count), or in a
//! parameter whose name, percent-decoded and in any letter case, contains `password` (`password`,
//! libpq's `sslpassword`, `PassWord`, `pass%77ord`): in the query of a URL, or in a libpq
//! `key=value` connection string. A `sqlite:` URL is a file path and carries none.

/// What a password is replaced with.
const MASK: &str = "***";

/// Whether `url` carries a password anywhere (even an empty one).
pub fn has_password(url: &str) -> bool {
    !password_spans(url).is_empty()
}

/// `url` with every password replaced by `***`, for messages.
pub fn redacted(url: &str) -> String {
    let mut out = String::with_capacity(url.len());
    let mut copied = 0;
    for span in password_spans(url) {
        out.push_str(&url[copied..span.start]);
        out.push_str(MASK);
        copied = span.end;
    }
    out.push_str(&url[copied..]);
    out
}

/// The byte ranges of every password in `url`, in order and without overlaps.
fn password_spans(url: &str) -> Vec<std::ops::Range<usize>> {
    if url.starts_with("sqlite:") {
        return Vec::new();
    }
    let mut spans = Vec::new();
    match url.find("://") {
        Some(scheme_end) => {
            let rest_start = scheme_end + 3;
            let rest = &url[rest_start..];
            if let Some(span) = userinfo_password(rest) {
                spans.push(rest_start + span.start..rest_start + span.end);
            }
            if let Some(query) = rest.find('?') {
                let query_start = rest_start + query + 1;
                spans.extend(parameter_passwords(url, query_start, |c| c == '&'));
            }
        }
        None => spans.extend(parameter_passwords(url, 0, char::is_whitespace)),
    }
    spans.sort_by_key(|span| span.start);
    // A userinfo password reaching into the query can cover a parameter's value.
    spans.dedup_by(|later, earlier| {
        let overlaps = later.start <= earlier.end;
        if overlaps {
            earlier.end = earlier.end.max(later.end);
        }
        overlaps
    });
    spans
}

/// The password of `user:password@` at the start of `rest` (what follows `scheme://`), relative to
/// `rest`: from the first `:` of the userinfo to the `@` that ends it, the farther of the two
/// readings.
fn userinfo_password(rest: &str) -> Option<std::ops::Range<usize>> {
    let first_at = rest.find('@');
    let before_query = &rest[..rest.find(['?', '#']).unwrap_or(rest.len())];
    let last_at_before_query = before_query.rfind('@');
    let end = first_at.max(last_at_before_query)?;
    let colon = rest[..end].find(':')?;
    Some(colon + 1..end)
}

/// The values of password parameters in `text[start..]`, parameters separated by `separator`.
fn parameter_passwords(
    text: &str,
    start: usize,
    separator: fn(char) -> bool,
) -> Vec<std::ops::Range<usize>> {
    let mut spans = Vec::new();
    let mut offset = start;
    for parameter in text[start..].split(separator) {
        if let Some((name, value)) = parameter.split_once('=')
            && names_a_password(name)
        {
            let value_start = offset + name.len() + 1;
            spans.push(value_start..value_start + value.len());
        }
        // Every separator is one character; its width in bytes is what moves the offset on.
        offset += parameter.len();
        offset += text[offset..].chars().next().map_or(0, char::len_utf8);
    }
    spans
}

/// Whether a parameter name is a password's, however it is spelled.
fn names_a_password(name: &str) -> bool {
    let mut name = name.to_owned();
    // Decoding until nothing changes also unmasks a name encoded twice.
    for _ in 0..4 {
        let decoded = percent_encoding::percent_decode_str(&name)
            .decode_utf8_lossy()
            .into_owned();
        if decoded == name {
            break;
        }
        name = decoded;
    }
    name.trim().to_ascii_lowercase().contains("password")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_form_of_password_is_found_and_masked() {
        for (url, masked) in [
            (
                "postgres://etl:s3cret@db:5432/w",
                "postgres://etl:***@db:5432/w",
            ),
            ("postgres://etl:@db/w", "postgres://etl:***@db/w"),
            (
                "postgres://etl@db/w?password=s3cret",
                "postgres://etl@db/w?password=***",
            ),
            (
                "postgresql://db/w?sslmode=require&PassWord=s3cret&x=1",
                "postgresql://db/w?sslmode=require&PassWord=***&x=1",
            ),
            (
                "postgres://db/w?pass%77ord=s3cret",
                "postgres://db/w?pass%77ord=***",
            ),
            (
                "postgres://db/w?pass%2577ord=s3cret",
                "postgres://db/w?pass%2577ord=***",
            ),
            (
                "postgres://db/w?sslpassword=s3cret",
                "postgres://db/w?sslpassword=***",
            ),
            // '@' and '/' inside an unencoded password: every reading is covered.
            ("postgres://etl:p@ss@db/w", "postgres://etl:***@db/w"),
            ("postgres://etl:pa/ss@db/w", "postgres://etl:***@db/w"),
            ("postgres://us@er:pw@db/w", "postgres://us@er:***@db/w"),
            (
                "host=db user=etl password=s3cret dbname=w",
                "host=db user=etl password=*** dbname=w",
            ),
        ] {
            assert!(has_password(url), "{url}");
            assert_eq!(redacted(url), masked, "{url}");
        }
    }

    #[test]
    fn urls_without_a_password_are_left_as_they_are() {
        for url in [
            "postgres://etl@db:5432/w",
            "postgres://db:5432/w?sslmode=require&sslrootcert=%2Fopt%2Fca.pem",
            "postgres://db/w?passfile=/home/etl/.pgpass",
            "sqlite:///tmp/a:b@c.db",
            "sqlite::memory:",
            "host=db user=etl",
        ] {
            assert!(!has_password(url), "{url}");
            assert_eq!(redacted(url), url);
        }
    }
}
