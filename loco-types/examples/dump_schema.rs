//! Prints the schema document, or with the argument `manifest` the `service.yaml` manifest's
//! schema.
fn main() {
    let manifest = std::env::args().nth(1).is_some_and(|a| a == "manifest");
    let text =
        if manifest { format!("{:#}\n", loco_types::manifest::schema()) } else { loco_types::schema::document_text() };
    #[allow(clippy::print_stdout)]
    {
        print!("{text}");
    }
}
