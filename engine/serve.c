/* serve.c - `tallysync serve` (placeholder until the server lands). */
#include <stdio.h>

#include "cli.h"

int eng_cli_serve(int argc, char **argv)
{
    (void)argc, (void)argv;
    fprintf(stderr, "tallysync serve: not built yet\n");
    return 1;
}
