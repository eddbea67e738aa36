//! Phone numbers as the channel compares them: `+62...` for Indonesian numbers written as `0812...`,
//! `62812...` or `+62 812-...`, digits only otherwise. A sender that is not a number (an operator's
//! alphanumeric id) cannot be answered or followed and is refused.

use subtle::ConstantTimeEq;

/// The canonical form of a sender number, or `None` when it is not a phone number (8..=16 digits).
pub fn normalise(raw: &str) -> Option<String> {
    let raw = raw.trim();
    let plus = raw.starts_with('+');
    if !raw
        .chars()
        .enumerate()
        .all(|(i, c)| c.is_ascii_digit() || " -".contains(c) || (i == 0 && c == '+'))
    {
        return None;
    }
    let digits: String = raw.chars().filter(char::is_ascii_digit).collect();
    if !(8..=16).contains(&digits.len()) {
        return None;
    }
    Some(match digits.strip_prefix('0') {
        Some(rest) if !plus => format!("+62{rest}"),
        _ => format!("+{digits}"),
    })
}

/// Whether two numbers are the same, in constant time over their canonical forms.
pub fn same(a: &str, b: &str) -> bool {
    match (normalise(a), normalise(b)) {
        (Some(a), Some(b)) => a.as_bytes().ct_eq(b.as_bytes()).into(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indonesian_forms_are_one_number() {
        for form in [
            "081234567890",
            "6281234567890",
            "+6281234567890",
            "+62 812-3456-7890",
        ] {
            assert_eq!(normalise(form).as_deref(), Some("+6281234567890"), "{form}");
        }
        assert!(same("081234567890", "+62 812 3456 7890"));
        assert!(!same("081234567890", "081234567891"));
        assert_eq!(normalise("TELKOMSEL"), None);
        assert_eq!(normalise("1708"), None);
        assert_eq!(normalise("+62+812345678"), None);
        assert!(!same("TELKOMSEL", "TELKOMSEL"));
    }
}
