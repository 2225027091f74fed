// Network::save needs the checkpoint code, which network.hpp does not include: the error names
// the missing piece instead of failing at link time.
// expect-first-error: incomplete type 'ctnn::io::Weights' used in nested name specifier
#include <ctnn/backend/cpu.hpp>
#include <ctnn/layers.hpp>
#include <ctnn/network.hpp>

int main() {
  ctnn::Network<ctnn::Seq<ctnn::Flatten, ctnn::Linear<4, 2>>, ctnn::Shape<1, 2, 2>> net(1);
  net.save("weights.ckpt");
}
