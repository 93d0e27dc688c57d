/*
 * v_spawn.c CHILD: starts CHILD (a path) three ways, each once: posix_spawn, system and popen
 * (whose output it copies to its own stdout), and waits for each.
 */
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

int main(int argc, char **argv) {
  char line[4096], cmd[4200];
  pid_t pid;
  int status;
  FILE *p;
  void *keep = malloc(2222);
  if (argc < 2) return 2;
  char *child_argv[] = {argv[1], NULL};
  if (posix_spawn(&pid, argv[1], NULL, NULL, child_argv, environ) != 0) return 3;
  waitpid(pid, &status, 0);
  snprintf(cmd, sizeof cmd, "%s", argv[1]);
  status = system(cmd);
  p = popen(cmd, "r");
  if (!p) return 4;
  while (fgets(line, sizeof line, p)) fputs(line, stdout);
  pclose(p);
  (void)keep;
  return 0;
}
