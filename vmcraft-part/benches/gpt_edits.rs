//! Placeholder: the GPT edit benchmark is added in a later commit.

fn main() {}
