//! Build script: lets the cdylib leave Node-API symbols undefined, to be resolved by `node` at load time.

fn main() {
    napi_build::setup();
}
