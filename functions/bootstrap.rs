//! The build script every function shares: its bootstrap is linked as a fixed-address executable
//! (`-no-pie`). A position-independent one makes the loader patch some fifteen thousand pointers
//! at every start, each on a page of its own copy: about a third of a millisecond and seventy page
//! faults of every cold start, for address randomisation of the bootstrap's own image alone
//! (the heap, stacks and shared libraries stay randomised). `scripts/bench cold-start` measures it.

fn main() {
    println!("cargo::rustc-link-arg-bins=-no-pie");
}
