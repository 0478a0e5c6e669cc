//! Wildcarded identities (TS 23.003 wildcarded PSIs and wildcarded public
//! user identities): a URI in which each part delimited by `!` is a regular
//! expression, e.g. `sip:chatroom-!.*!@example.com`.

use crate::HssError;

use super::model::invalid;

/// Most atoms a compiled wildcard may hold (after `{n,m}` expansion).
const MAX_ATOMS: usize = 1024;
/// Largest bound accepted in a `{n}`, `{n,}` or `{n,m}` quantifier.
const MAX_REPEAT: u32 = 100;

/// A compiled wildcard identity, matched against whole concrete identities.
///
/// Text outside `!…!` is literal; each `!…!` part is a regular expression
/// from this subset:
///
/// | syntax | meaning |
/// |---|---|
/// | any other character | itself |
/// | `.` | any one character |
/// | `[abc]`, `[a-z0-9]`, `[^…]` | a character class, negated with `^` (`]` first is literal, `-` first or last is literal) |
/// | `\d` `\w` `\s` and `\D` `\W` `\S` | ASCII digit, word character (`[A-Za-z0-9_]`), whitespace, and their negations (only the first three inside a class) |
/// | `\n` `\r` `\t` | line feed, carriage return, tab |
/// | `\` + a non-alphanumeric character | that character |
/// | `*` `+` `?` | zero or more, one or more, zero or one of the preceding atom |
/// | `{n}` `{n,}` `{n,m}` | repetition, bounds up to 100 |
///
/// Groups `( )`, alternation `|`, anchors `^ $` (the match is always of the
/// whole identity), back-references, lazy quantifiers and other escapes are
/// refused by [`WildcardPattern::parse`]. Matching runs a Thompson NFA
/// simulation: time O(pattern × identity) whatever the pattern, with no
/// backtracking blow-up.
///
/// ```
/// use clearwater_hss::subscription::WildcardPattern;
///
/// let room = WildcardPattern::parse("sip:chatroom-!.*!@example.com").unwrap();
/// assert!(room.matches("sip:chatroom-42@example.com"));
/// assert!(!room.matches("sip:chatroom-42@example.org"));
///
/// let block = WildcardPattern::parse("tel:+1555123!\\d{4}!").unwrap();
/// assert!(block.matches("tel:+15551230001"));
/// assert!(!block.matches("tel:+1555123001"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WildcardPattern {
    atoms: Vec<Atom>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Atom {
    class: Class,
    repeat: Repeat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Repeat {
    One,
    Optional,
    Star,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Class {
    Char(char),
    Any,
    Set {
        negated: bool,
        ranges: Vec<(char, char)>,
    },
}

impl Class {
    fn matches(&self, c: char) -> bool {
        match self {
            Self::Char(expected) => c == *expected,
            Self::Any => true,
            Self::Set { negated, ranges } => {
                ranges.iter().any(|(lo, hi)| (*lo..=*hi).contains(&c)) != *negated
            }
        }
    }
}

const DIGIT: &[(char, char)] = &[('0', '9')];
const WORD: &[(char, char)] = &[('0', '9'), ('A', 'Z'), ('_', '_'), ('a', 'z')];
const SPACE: &[(char, char)] = &[('\t', '\r'), (' ', ' ')];

impl WildcardPattern {
    /// Compiles a wildcard identity.
    ///
    /// # Errors
    ///
    /// [`HssError::Invalid`] for an odd number of `!` delimiters, an empty
    /// `!!` part, or a regular expression outside the supported subset.
    pub fn parse(pattern: &str) -> Result<Self, HssError> {
        let parts: Vec<&str> = pattern.split('!').collect();
        if parts.len().is_multiple_of(2) {
            return Err(invalid(format!(
                "wildcard {pattern:?}: a `!` delimiter is not closed"
            )));
        }
        let mut compiler = Compiler { atoms: Vec::new() };
        for (i, part) in parts.iter().enumerate() {
            let compiled = if i.is_multiple_of(2) {
                part.chars()
                    .try_for_each(|c| compiler.push(Class::Char(c), Repeat::One))
            } else if part.is_empty() {
                Err("empty `!!` part".to_owned())
            } else {
                compiler.regex(part)
            };
            compiled.map_err(|reason| invalid(format!("wildcard {pattern:?}: {reason}")))?;
        }
        Ok(Self {
            atoms: compiler.atoms,
        })
    }

    /// Whether the whole of `identity` matches the pattern.
    pub fn matches(&self, identity: &str) -> bool {
        let n = self.atoms.len();
        let mut current = vec![false; n + 1];
        let mut next = vec![false; n + 1];
        current[0] = true;
        self.close(&mut current);
        for c in identity.chars() {
            next.iter_mut().for_each(|s| *s = false);
            let mut alive = false;
            for (i, atom) in self.atoms.iter().enumerate() {
                if current[i] && atom.class.matches(c) {
                    let to = if atom.repeat == Repeat::Star {
                        i
                    } else {
                        i + 1
                    };
                    next[to] = true;
                    alive = true;
                }
            }
            if !alive {
                return false;
            }
            self.close(&mut next);
            std::mem::swap(&mut current, &mut next);
        }
        current[n]
    }

    /// Adds the states reachable without consuming input: past optional and
    /// starred atoms. Those edges only go forwards, so one pass suffices.
    fn close(&self, states: &mut [bool]) {
        for (i, atom) in self.atoms.iter().enumerate() {
            if states[i] && atom.repeat != Repeat::One {
                states[i + 1] = true;
            }
        }
    }
}

struct Compiler {
    atoms: Vec<Atom>,
}

impl Compiler {
    fn push(&mut self, class: Class, repeat: Repeat) -> Result<(), String> {
        if self.atoms.len() >= MAX_ATOMS {
            return Err(format!(
                "longer than {MAX_ATOMS} characters after expansion"
            ));
        }
        self.atoms.push(Atom { class, repeat });
        Ok(())
    }

    fn regex(&mut self, regex: &str) -> Result<(), String> {
        let mut chars = regex.chars().peekable();
        while let Some(c) = chars.next() {
            let class = match c {
                '.' => Class::Any,
                '\\' => escape(chars.next(), false)?,
                '[' => set(&mut chars)?,
                '*' | '+' | '?' | '{' => {
                    return Err(format!(
                        "quantifier `{c}` does not follow a character or class"
                    ));
                }
                '(' | ')' | '|' | '^' | '$' => {
                    return Err(format!("`{c}` is not supported in wildcards"));
                }
                c => Class::Char(c),
            };
            let (min, max) = match chars.peek() {
                Some('*') => (0, None),
                Some('+') => (1, None),
                Some('?') => (0, Some(1)),
                Some('{') => {
                    chars.next();
                    let (min, max) = bounds(&mut chars)?;
                    self.repeat(class, min, max)?;
                    continue;
                }
                _ => {
                    self.repeat(class, 1, Some(1))?;
                    continue;
                }
            };
            chars.next();
            self.repeat(class, min, max)?;
        }
        Ok(())
    }

    /// `min` mandatory copies of `class`, then `max - min` optional ones or,
    /// without `max`, one starred copy.
    fn repeat(&mut self, class: Class, min: u32, max: Option<u32>) -> Result<(), String> {
        for _ in 0..min {
            self.push(class.clone(), Repeat::One)?;
        }
        match max {
            None => self.push(class, Repeat::Star),
            Some(max) => {
                for _ in min..max {
                    self.push(class.clone(), Repeat::Optional)?;
                }
                Ok(())
            }
        }
    }
}

fn escape(c: Option<char>, in_set: bool) -> Result<Class, String> {
    let set = |negated, ranges: &[(char, char)]| Class::Set {
        negated,
        ranges: ranges.to_vec(),
    };
    match c {
        None => Err("`\\` at the end of the wildcard".to_owned()),
        Some('d') => Ok(set(false, DIGIT)),
        Some('w') => Ok(set(false, WORD)),
        Some('s') => Ok(set(false, SPACE)),
        Some('D') if !in_set => Ok(set(true, DIGIT)),
        Some('W') if !in_set => Ok(set(true, WORD)),
        Some('S') if !in_set => Ok(set(true, SPACE)),
        Some('n') => Ok(Class::Char('\n')),
        Some('r') => Ok(Class::Char('\r')),
        Some('t') => Ok(Class::Char('\t')),
        Some(c) if !c.is_alphanumeric() => Ok(Class::Char(c)),
        Some(c) => Err(format!("escape `\\{c}` is not supported in wildcards")),
    }
}

/// A `[…]` class, the `[` already read.
fn set(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> Result<Class, String> {
    let negated = chars.next_if_eq(&'^').is_some();
    let mut ranges = Vec::new();
    let mut first = true;
    loop {
        let c = chars.next().ok_or("`[` is not closed")?;
        let lo = match c {
            ']' if !first => break,
            '\\' => match escape(chars.next(), true)? {
                Class::Char(c) => c,
                Class::Set { ranges: more, .. } => {
                    ranges.extend(more);
                    first = false;
                    continue;
                }
                Class::Any => return Err("`.` escape in a class".to_owned()),
            },
            c => c,
        };
        first = false;
        // A range `lo-hi`, unless the `-` is last in the class.
        let mut ahead = chars.clone();
        if ahead.next() == Some('-') && ahead.peek().is_some_and(|c| *c != ']') {
            chars.next();
            let hi = match chars.next() {
                Some('\\') => match escape(chars.next(), true)? {
                    Class::Char(c) => c,
                    _ => return Err("a class escape cannot end a range".to_owned()),
                },
                Some(c) => c,
                None => return Err("`[` is not closed".to_owned()),
            };
            if hi < lo {
                return Err(format!("range `{lo}-{hi}` is backwards"));
            }
            ranges.push((lo, hi));
        } else {
            ranges.push((lo, lo));
        }
    }
    Ok(Class::Set { negated, ranges })
}

/// The bounds of a `{n}`, `{n,}` or `{n,m}` quantifier, the `{` already
/// read.
fn bounds(
    chars: &mut std::iter::Peekable<std::str::Chars<'_>>,
) -> Result<(u32, Option<u32>), String> {
    let mut body = String::new();
    loop {
        match chars.next() {
            Some('}') => break,
            Some(c) if c.is_ascii_digit() || c == ',' => body.push(c),
            _ => return Err("malformed `{…}` quantifier".to_owned()),
        }
    }
    let number = |s: &str| -> Result<u32, String> {
        s.parse::<u32>()
            .ok()
            .filter(|n| *n <= MAX_REPEAT)
            .ok_or_else(|| format!("`{{{body}}}`: bounds must be numbers up to {MAX_REPEAT}"))
    };
    let (min, max) = match body.split_once(',') {
        None => {
            let n = number(&body)?;
            (n, Some(n))
        }
        Some((min, "")) => (number(min)?, None),
        Some((min, max)) => (number(min)?, Some(number(max)?)),
    };
    if max.is_some_and(|max| max < min) {
        return Err(format!("`{{{body}}}`: the maximum is below the minimum"));
    }
    Ok((min, max))
}
