// facetracker: the command-line entry point. Dispatches to cmd_<name>.c.
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--version") == 0) {
        printf("facetracker %s\n", FT_VERSION);
        return 0;
    }
    fprintf(stderr, "usage: facetracker COMMAND ...\n");
    return 1;
}
