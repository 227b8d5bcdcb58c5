//! PLACEHOLDER until the number module lands.
pub fn format_g(x: f64, _precision: usize, out: &mut Vec<u8>) {
    out.extend_from_slice(format!("{x}").as_bytes());
}
