//! Links the addon the way Node.js loads it (napi-build sets the linker
//! flags that leave the N-API symbols for the node binary to provide).

fn main() {
    napi_build::setup();
}
