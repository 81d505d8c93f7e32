/* Sub-commands of the crshim command.  Each returns the process exit status. */
#ifndef CRSHIM_COMMANDS_H
#define CRSHIM_COMMANDS_H

int cmd_status(int argc, char **argv);
int cmd_gc(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_lib(int argc, char **argv);
int cmd_dump(int argc, char **argv);
int cmd_restore(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_doctor(int argc, char **argv);
int cmd_hook(int argc, char **argv); /* crshim __hook, run by CRIU */

/* Global verbosity (-v before the sub-command or inside it). */
extern int crshim_verbose;

#endif
