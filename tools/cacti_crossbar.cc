// Prints CACTI 7's own crossbar area (crossbar.cc, class Crossbar) for the technology of a CACTI config file:
// the reference for phaze.hardware.sram.crossbar_area_mm2 (docs/sram.md). Not built by phaze or its tests.
//
// Build against the CACTI objects made as tools/sram_table.py says (CACTI=.../zigzag/cacti/cacti_master):
//   g++ -m64 -g -msse2 -mfpmath=sse -DNTHREADS=1 -I$CACTI -o cacti_crossbar tools/cacti_crossbar.cc \
//       $(ls $CACTI/obj_opt/*.o | grep -v main.o) -lm -pthread
// Run from $CACTI with a config in a subdirectory (e.g. one written by tools/sram_table.py's config_text):
//   cd $CACTI && /path/to/cacti_crossbar phaze_cfg/xbar.cfg n_in n_out flit_bits [n_in n_out flit_bits ...]
#include <cstdlib>
#include <iostream>
#include "crossbar.h"
#include "Ucache.h"
#include "io.h"
#include "parameter.h"
#include "wire.h"

int main(int argc, char **argv) {
  g_ip = new InputParameter();
  g_ip->parse_cfg(argv[1]);
  if (!g_ip->error_checking()) return 1;
  init_tech_params(g_ip->F_sz_um, false);
  Wire winit;
  std::cout.precision(10);
  std::cout << "n_in,n_out,flit_bits,pitch_um,width_um,height_um,area_mm2,dynamic_nj,leakage_mw" << std::endl;
  for (int i = 2; i + 2 < argc; i += 3) {
    Crossbar cb(atof(argv[i]), atof(argv[i + 1]), atof(argv[i + 2]));
    cb.compute_power();
    std::cout << argv[i] << "," << argv[i + 1] << "," << argv[i + 2] << "," << g_tp.wire_outside_mat.pitch << ","
              << cb.area.w << "," << cb.area.h << "," << cb.area.get_area() * 1e-6 << ","
              << cb.power.readOp.dynamic * 1e9 << "," << cb.power.readOp.leakage * 1e3 << std::endl;
  }
  return 0;
}
