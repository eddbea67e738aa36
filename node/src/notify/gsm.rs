//! GSM 03.38 (GSM-7) text for SMS: which characters fit, how many septets a text takes, how many parts it
//! is sent in, and shortening to a budget. Anything outside the alphabet is replaced, so a notice is never
//! silently sent as UCS-2 (70 characters a part).

/// The GSM-7 default alphabet (one septet each).
const BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
/// The extension table (escape + one septet: two each).
const EXTENDED: &str = "^{}\\[~]|€\u{c}";

/// Septets of one character in GSM-7, `None` when it is not in the alphabet.
fn cost(c: char) -> Option<usize> {
    if BASIC.contains(c) {
        Some(1)
    } else if EXTENDED.contains(c) {
        Some(2)
    } else {
        None
    }
}

/// Septets `text` takes (characters outside GSM-7 count as the `?` they become).
pub fn septets(text: &str) -> usize {
    text.chars().map(|c| cost(c).unwrap_or(1)).sum()
}

/// Parts of a concatenated SMS: 160 septets fit one, 153 each when split.
pub fn parts(text: &str) -> usize {
    let n = septets(text);
    if n <= 160 {
        1
    } else {
        n.div_ceil(153)
    }
}

/// `text` in the GSM-7 alphabet: typographic quotes and dashes become ASCII, whitespace runs one space,
/// accented letters outside the alphabet lose the accent, anything else becomes `?`.
pub fn clean(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut space = false;
    for c in text.chars() {
        if c.is_whitespace() {
            if !space && !out.is_empty() {
                out.push(' ');
            }
            space = true;
            continue;
        }
        space = false;
        let mapped = match c {
            _ if cost(c).is_some() => c,
            '‘' | '’' | '`' | '´' => '\'',
            '“' | '”' => '"',
            '–' | '—' | '−' => '-',
            'á' | 'â' | 'ã' | 'ā' => 'a',
            'Á' | 'Â' | 'Ã' | 'À' | 'Ā' => 'A',
            'ê' | 'ë' | 'ē' => 'e',
            'È' | 'Ê' | 'Ë' | 'Ē' => 'E',
            'í' | 'î' | 'ï' | 'ī' => 'i',
            'Í' | 'Ì' | 'Î' | 'Ï' => 'I',
            'ó' | 'ô' | 'õ' | 'ō' => 'o',
            'Ó' | 'Ò' | 'Ô' | 'Õ' => 'O',
            'ú' | 'û' | 'ū' => 'u',
            'Ú' | 'Ù' | 'Û' => 'U',
            'ç' => 'c',
            _ => '?',
        };
        out.push(mapped);
    }
    out.trim_end().to_owned()
}

/// `text` cut to at most `budget` septets, ending in `...` when it was cut.
pub fn shorten(text: &str, budget: usize) -> String {
    if septets(text) <= budget {
        return text.to_owned();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in text.chars() {
        let n = cost(c).unwrap_or(1);
        if used + n + 3 > budget {
            break;
        }
        out.push(c);
        used += n;
    }
    format!("{}...", out.trim_end())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_septets_and_parts() {
        assert_eq!(septets("abc"), 3);
        assert_eq!(septets("a€"), 3);
        assert_eq!(parts(&"a".repeat(160)), 1);
        assert_eq!(parts(&"a".repeat(161)), 2);
        assert_eq!(parts(&"a".repeat(306)), 2);
        assert_eq!(parts(&"a".repeat(307)), 3);
    }

    #[test]
    fn cleans_to_the_alphabet() {
        assert_eq!(
            clean("Jalan “rusak” — parah\n\n  sekali 😀"),
            "Jalan \"rusak\" - parah sekali ?"
        );
        assert!(clean("ñ é ü").chars().all(|c| cost(c).is_some()));
    }

    #[test]
    fn shortens_to_the_budget() {
        let s = shorten(&"kata ".repeat(100), 50);
        assert!(septets(&s) <= 50, "{s}");
        assert!(s.ends_with("..."));
        assert_eq!(shorten("pendek", 50), "pendek");
    }
}
