//! Prints docs/crd-reference.md (`make generate` writes it, a test compares).

fn main() {
    print!("{}", codeartifact_operator::crd::reference_markdown());
}
