/* load_check.c — test driver for the C model reader: for each path given,
 * print "<status>" (0 or a negative nn_status) of nn_net_load, one per line,
 * and for loadable files also the sizes and the compute mode (nn_compute). Used by tests/test_c_embedding.py
 * to check that hostile files get an error code, never a crash.
 */
#include <stdio.h>

#include "nncore.h"

int main(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        nn_net *net = NULL;
        int st = nn_net_load(&net, argv[i]);
        if (st == NN_OK) {
            printf("%d %lld %lld %lld %d\n", st, (long long)nn_net_num_inputs(net),
                   (long long)nn_net_num_outputs(net), (long long)nn_net_num_params(net),
                   (int)nn_net_get_compute(net));
            nn_net_free(net);
        } else {
            printf("%d\n", st);
        }
    }
    return 0;
}
