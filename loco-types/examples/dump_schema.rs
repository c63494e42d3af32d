//! Prints the schema document.
fn main() {
    #[allow(clippy::print_stdout)]
    {
        print!("{}", loco_types::schema::document_text());
    }
}
