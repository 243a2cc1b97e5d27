//! Every message code this crate can emit. Each one has a template in the
//! five catalogues under `shared/i18n/` (checked by a test in this crate).

use zxcvbn::feedback::{Suggestion, Warning};

/// Fewer code points than `minLength`.
pub const TOO_SHORT: &str = "PASSWORD.TOO_SHORT";
/// More code points than `maxLength`, or raw input over 1 KiB.
pub const TOO_LONG: &str = "PASSWORD.TOO_LONG";
/// The new password verifies against the current hash.
pub const SAME_AS_CURRENT: &str = "PASSWORD.SAME_AS_CURRENT";
/// The new password verifies against a recent previous hash.
pub const REUSED: &str = "PASSWORD.REUSED";
/// The password contains the user's own data.
pub const CONTAINS_PERSONAL_INFO: &str = "PASSWORD.CONTAINS_PERSONAL_INFO";
/// The password contains the user's own data written backwards.
pub const REVERSED_PERSONAL_INFO: &str = "PASSWORD.REVERSED_PERSONAL_INFO";
/// One character repeated more than `maxRepeats` times in a row.
pub const TOO_MANY_REPEATS: &str = "PASSWORD.TOO_MANY_REPEATS";
/// Fewer character classes than `requiredClasses`.
pub const LOW_COMPLEXITY: &str = "PASSWORD.LOW_COMPLEXITY";
/// zxcvbn score below `minScore`.
pub const WEAK: &str = "PASSWORD.WEAK";
/// Found in the breached-password filter or range service.
pub const BREACHED: &str = "PASSWORD.BREACHED";
/// Umbrella code for a [`crate::PasswordError::Policy`] response.
pub const POLICY_VIOLATION: &str = "PASSWORD.POLICY_VIOLATION";
/// Code a caller uses when the current password does not verify.
pub const CURRENT_PASSWORD_INCORRECT: &str = "AUTH.CURRENT_PASSWORD_INCORRECT";
/// Code for a backend that did not answer (the range service, failing closed).
pub const UNAVAILABLE: &str = "SYSTEM.UNAVAILABLE";
/// Code for an unexpected failure (hashing error, task failure).
pub const INTERNAL_ERROR: &str = "SYSTEM.INTERNAL_ERROR";

/// Localizable code for a zxcvbn warning.
pub fn warning_code(w: Warning) -> &'static str {
    match w {
        Warning::StraightRowsOfKeysAreEasyToGuess => "PASSWORD.WARNING.STRAIGHT_ROWS",
        Warning::ShortKeyboardPatternsAreEasyToGuess => "PASSWORD.WARNING.SHORT_KEYBOARD_PATTERNS",
        Warning::RepeatsLikeAaaAreEasyToGuess => "PASSWORD.WARNING.REPEATED_CHARACTERS",
        Warning::RepeatsLikeAbcAbcAreOnlySlightlyHarderToGuess => {
            "PASSWORD.WARNING.REPEATED_PATTERNS"
        }
        Warning::ThisIsATop10Password => "PASSWORD.WARNING.TOP_10",
        Warning::ThisIsATop100Password => "PASSWORD.WARNING.TOP_100",
        Warning::ThisIsACommonPassword => "PASSWORD.WARNING.COMMON",
        Warning::ThisIsSimilarToACommonlyUsedPassword => "PASSWORD.WARNING.SIMILAR_TO_COMMON",
        Warning::SequencesLikeAbcAreEasyToGuess => "PASSWORD.WARNING.SEQUENCES",
        Warning::RecentYearsAreEasyToGuess => "PASSWORD.WARNING.RECENT_YEARS",
        Warning::AWordByItselfIsEasyToGuess => "PASSWORD.WARNING.SINGLE_WORD",
        Warning::DatesAreOftenEasyToGuess => "PASSWORD.WARNING.DATES",
        Warning::NamesAndSurnamesByThemselvesAreEasyToGuess => {
            "PASSWORD.WARNING.NAMES_BY_THEMSELVES"
        }
        Warning::CommonNamesAndSurnamesAreEasyToGuess => "PASSWORD.WARNING.COMMON_NAMES",
    }
}

/// Localizable code for a zxcvbn suggestion.
pub fn suggestion_code(s: Suggestion) -> &'static str {
    match s {
        Suggestion::UseAFewWordsAvoidCommonPhrases => "PASSWORD.SUGGESTION.USE_FEW_WORDS",
        Suggestion::NoNeedForSymbolsDigitsOrUppercaseLetters => {
            "PASSWORD.SUGGESTION.NO_NEED_FOR_SYMBOLS"
        }
        Suggestion::AddAnotherWordOrTwo => "PASSWORD.SUGGESTION.ADD_WORDS",
        Suggestion::CapitalizationDoesntHelpVeryMuch => "PASSWORD.SUGGESTION.CAPITALIZATION",
        Suggestion::AllUppercaseIsAlmostAsEasyToGuessAsAllLowercase => {
            "PASSWORD.SUGGESTION.ALL_UPPERCASE"
        }
        Suggestion::ReversedWordsArentMuchHarderToGuess => "PASSWORD.SUGGESTION.REVERSED_WORDS",
        Suggestion::PredictableSubstitutionsDontHelpVeryMuch => {
            "PASSWORD.SUGGESTION.PREDICTABLE_SUBSTITUTIONS"
        }
        Suggestion::UseALongerKeyboardPatternWithMoreTurns => {
            "PASSWORD.SUGGESTION.LONGER_KEYBOARD_PATTERN"
        }
        Suggestion::AvoidRepeatedWordsAndCharacters => "PASSWORD.SUGGESTION.AVOID_REPEATS",
        Suggestion::AvoidSequences => "PASSWORD.SUGGESTION.AVOID_SEQUENCES",
        Suggestion::AvoidRecentYears => "PASSWORD.SUGGESTION.AVOID_RECENT_YEARS",
        Suggestion::AvoidYearsThatAreAssociatedWithYou => {
            "PASSWORD.SUGGESTION.AVOID_PERSONAL_YEARS"
        }
        Suggestion::AvoidDatesAndYearsThatAreAssociatedWithYou => {
            "PASSWORD.SUGGESTION.AVOID_PERSONAL_DATES"
        }
    }
}

const WARNINGS: [Warning; 14] = [
    Warning::StraightRowsOfKeysAreEasyToGuess,
    Warning::ShortKeyboardPatternsAreEasyToGuess,
    Warning::RepeatsLikeAaaAreEasyToGuess,
    Warning::RepeatsLikeAbcAbcAreOnlySlightlyHarderToGuess,
    Warning::ThisIsATop10Password,
    Warning::ThisIsATop100Password,
    Warning::ThisIsACommonPassword,
    Warning::ThisIsSimilarToACommonlyUsedPassword,
    Warning::SequencesLikeAbcAreEasyToGuess,
    Warning::RecentYearsAreEasyToGuess,
    Warning::AWordByItselfIsEasyToGuess,
    Warning::DatesAreOftenEasyToGuess,
    Warning::NamesAndSurnamesByThemselvesAreEasyToGuess,
    Warning::CommonNamesAndSurnamesAreEasyToGuess,
];

const SUGGESTIONS: [Suggestion; 13] = [
    Suggestion::UseAFewWordsAvoidCommonPhrases,
    Suggestion::NoNeedForSymbolsDigitsOrUppercaseLetters,
    Suggestion::AddAnotherWordOrTwo,
    Suggestion::CapitalizationDoesntHelpVeryMuch,
    Suggestion::AllUppercaseIsAlmostAsEasyToGuessAsAllLowercase,
    Suggestion::ReversedWordsArentMuchHarderToGuess,
    Suggestion::PredictableSubstitutionsDontHelpVeryMuch,
    Suggestion::UseALongerKeyboardPatternWithMoreTurns,
    Suggestion::AvoidRepeatedWordsAndCharacters,
    Suggestion::AvoidSequences,
    Suggestion::AvoidRecentYears,
    Suggestion::AvoidYearsThatAreAssociatedWithYou,
    Suggestion::AvoidDatesAndYearsThatAreAssociatedWithYou,
];

/// Every code the crate can emit (violations, zxcvbn feedback, error codes).
pub fn all_codes() -> &'static [&'static str] {
    static ALL: std::sync::OnceLock<Vec<&'static str>> = std::sync::OnceLock::new();
    ALL.get_or_init(|| {
        let mut v = vec![
            TOO_SHORT,
            TOO_LONG,
            SAME_AS_CURRENT,
            REUSED,
            CONTAINS_PERSONAL_INFO,
            REVERSED_PERSONAL_INFO,
            TOO_MANY_REPEATS,
            LOW_COMPLEXITY,
            WEAK,
            BREACHED,
            POLICY_VIOLATION,
            CURRENT_PASSWORD_INCORRECT,
            INTERNAL_ERROR,
        ];
        v.extend(WARNINGS.iter().map(|w| warning_code(*w)));
        v.extend(SUGGESTIONS.iter().map(|s| suggestion_code(*s)));
        v
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{BTreeMap, BTreeSet};

    fn catalogues() -> Vec<(&'static str, BTreeMap<String, String>)> {
        [
            ("en", include_str!("../../i18n/en.json")),
            ("zh", include_str!("../../i18n/zh.json")),
            ("zh-Hant", include_str!("../../i18n/zh-Hant.json")),
            ("ja", include_str!("../../i18n/ja.json")),
            ("vi", include_str!("../../i18n/vi.json")),
        ]
        .into_iter()
        .map(|(lang, src)| (lang, serde_json::from_str(src).expect("catalogue is JSON")))
        .collect()
    }

    fn placeholders(t: &str) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        let mut rest = t;
        while let Some(start) = rest.find('{') {
            let after = &rest[start + 1..];
            match after.find('}') {
                Some(end) => {
                    out.insert(after[..end].to_string());
                    rest = &after[end + 1..];
                }
                None => break,
            }
        }
        out
    }

    #[test]
    fn every_code_is_in_every_catalogue() {
        let cats = catalogues();
        let mut missing = Vec::new();
        for code in all_codes() {
            for (lang, cat) in &cats {
                if !cat.contains_key(*code) {
                    missing.push(format!("{lang}:{code}"));
                }
            }
        }
        assert!(missing.is_empty(), "missing catalogue entries: {missing:?}");
    }

    #[test]
    fn translations_keep_placeholders_and_differ_from_english() {
        let cats = catalogues();
        let en = &cats[0].1;
        for code in all_codes() {
            let en_text = &en[*code];
            for (lang, cat) in &cats[1..] {
                let text = &cat[*code];
                assert_eq!(placeholders(text), placeholders(en_text), "{lang}:{code}");
                assert_ne!(text, en_text, "{lang}:{code} is an English copy");
            }
        }
    }

    #[test]
    fn codes_are_unique() {
        let set: BTreeSet<_> = all_codes().iter().collect();
        assert_eq!(set.len(), all_codes().len());
    }

    #[test]
    fn violation_codes_have_expected_placeholders() {
        let cats = catalogues();
        let en = &cats[0].1;
        let want = [
            (TOO_SHORT, "min"),
            (TOO_LONG, "max"),
            (REUSED, "depth"),
            (CONTAINS_PERSONAL_INFO, "field"),
            (REVERSED_PERSONAL_INFO, "field"),
            (TOO_MANY_REPEATS, "max"),
            (LOW_COMPLEXITY, "required"),
            (WEAK, "score"),
        ];
        for (code, p) in want {
            assert!(placeholders(&en[code]).contains(p), "{code} lacks {{{p}}}");
        }
    }
}
