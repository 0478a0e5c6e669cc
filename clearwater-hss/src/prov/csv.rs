//! The bulk-provisioning CSV: `impu,impi,password` lines.

/// One subscriber line: its line number (1-based) and fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Line {
    pub(super) number: usize,
    pub(super) impu: String,
    pub(super) impi: String,
    pub(super) password: String,
}

/// Parses the whole body; every line is checked before anything is
/// returned. Errors name the line. See the [module docs](super) for the
/// format.
pub(super) fn parse(text: &str, max_lines: usize) -> Result<Vec<Line>, String> {
    let mut out = Vec::new();
    let mut first = true;
    for (i, raw) in text.split('\n').enumerate() {
        let number = i + 1;
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        if std::mem::replace(&mut first, false)
            && trimmed.eq_ignore_ascii_case("impu,impi,password")
        {
            continue;
        }
        if out.len() == max_lines {
            return Err(format!(
                "line {number}: more than {max_lines} subscribers in one request"
            ));
        }
        let fields = fields(line).map_err(|e| format!("line {number}: {e}"))?;
        let [impu, impi, password] = <[String; 3]>::try_from(fields).map_err(|f| {
            format!(
                "line {number}: expected 3 fields (impu,impi,password), found {}",
                f.len()
            )
        })?;
        out.push(Line {
            number,
            impu,
            impi,
            password,
        });
    }
    if out.is_empty() {
        return Err("no subscriber lines".into());
    }
    Ok(out)
}

/// Splits one line into fields: separated by commas, each either plain
/// text (no quotes) or enclosed in double quotes with `""` for a quote.
fn fields(line: &str) -> Result<Vec<String>, &'static str> {
    let mut fields = Vec::new();
    let mut current = String::new();
    let mut quoted = false; // the field started with a quote
    let mut in_quotes = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if in_quotes {
            if c == '"' {
                if chars.peek() == Some(&'"') {
                    chars.next();
                    current.push('"');
                } else {
                    in_quotes = false;
                }
            } else {
                current.push(c);
            }
            continue;
        }
        match c {
            ',' => {
                fields.push(std::mem::take(&mut current));
                quoted = false;
            }
            '"' if current.is_empty() && !quoted => {
                quoted = true;
                in_quotes = true;
            }
            '"' => return Err("a quote inside an unquoted field"),
            _ if quoted => return Err("text after a closing quote"),
            c => current.push(c),
        }
    }
    if in_quotes {
        return Err("a quoted field is not closed");
    }
    fields.push(current);
    Ok(fields)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn lines_and_fields() {
        let text = "impu,impi,password\r\n\
                    sip:a@x,a@x,pw1\n\
                    \n# comment\n\
                    sip:b@x,b@x,\"p,w\"\"2\"\n";
        let lines = parse(text, 10).unwrap();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].number, 2);
        assert_eq!(lines[0].password, "pw1");
        assert_eq!(lines[1].number, 5);
        assert_eq!(lines[1].password, "p,w\"2");
        // A header only counts as the first line.
        assert!(parse("sip:a@x,a@x,p\nimpu,impi,password", 10).is_ok());
    }

    #[test]
    fn errors_name_the_line() {
        assert_eq!(
            parse("sip:a@x,a@x,p\nsip:b@x,b@x\n", 10).unwrap_err(),
            "line 2: expected 3 fields (impu,impi,password), found 2"
        );
        assert!(
            parse("a,b,\"c\nd,e,f", 10)
                .unwrap_err()
                .starts_with("line 1: a quoted")
        );
        assert!(
            parse("a,b,c\"d", 10)
                .unwrap_err()
                .starts_with("line 1: a quote inside")
        );
        assert!(
            parse("a,b,\"c\"d", 10)
                .unwrap_err()
                .starts_with("line 1: text after")
        );
        assert_eq!(parse("\n# x\n", 10).unwrap_err(), "no subscriber lines");
        assert_eq!(
            parse("a,b,c\nd,e,f\ng,h,i", 2).unwrap_err(),
            "line 3: more than 2 subscribers in one request"
        );
    }
}
