// --descriptor: choosing the descriptor network on the command line.
#include "cli/cli.h"

#include "face/descriptor.h"
#include "face/faceres.h"

#include <string.h>

int ft_cli_descriptor_parse(const char *cmd, int argc, char **argv, int *i,
                            const ft_descriptor_net **net)
{
    if (strcmp(argv[*i], "--descriptor") != 0)
        return 0;
    const char *v;
    if (!ft_cli_str(argc, argv, i, &v))
        return -1;
    const ft_descriptor_net *d = ft_descriptor_net_find(v);
    if (!d) {
        size_t n;
        const ft_descriptor_net *all = ft_descriptor_nets(&n);
        char names[128] = "";
        for (size_t k = 0; k < n; k++) {
            strncat(names, k ? ", " : "", sizeof names - strlen(names) - 1);
            strncat(names, all[k].name, sizeof names - strlen(names) - 1);
        }
        ft_cli_errorf(cmd, "--descriptor %s: unknown (one of %s)", v, names);
        return -1;
    }
    *net = d;
    return 1;
}

ft_status ft_cli_descriptor_load(const char *cmd, const ft_descriptor_net *net, ft_faceres **fr)
{
    *fr = NULL;
    if (strcmp(net->name, "faceres") != 0)
        return FT_OK;
    ft_err err = {0};
    const char *path = ft_descriptor_faceres_path();
    ft_status st = ft_faceres_load(path, NULL, fr, &err);
    if (st != FT_OK)
        ft_cli_errorf(cmd, "faceres: %s (tools/setup.sh fetches its weights to "
                           ".cache/human-3.3.6; or set FT_FACERES_MODEL)",
                      ft_err_msg(&err, st));
    return st;
}
