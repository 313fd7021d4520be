//! Whether two written names are probably the same person (interim: folded
//! names compared for equality; replaced by the Indonesian-aware matcher).

/// Whether two names are probably the same person.
pub fn is_probable_match(a: &str, b: &str) -> bool {
    let key = |s: &str| crate::region::fold_name(s);
    !key(a).is_empty() && key(a) == key(b)
}
