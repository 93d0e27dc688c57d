/* v_fork.c [exec PATH]: parent malloc(111), fork; child malloc(222) (and, with "exec PATH",
 * execs PATH); parent waits, then malloc(333).  Nothing is freed.  Prints nothing. */
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv) {
  void *a = malloc(111), *c;
  pid_t pid = fork();
  if (pid == 0) {
    void *b = malloc(222);
    (void)b;
    if (argc > 2 && !strcmp(argv[1], "exec")) {
      execl(argv[2], argv[2], (char *)NULL);
      _exit(126);
    }
    exit(7);
  }
  waitpid(pid, NULL, 0);
  c = malloc(333);
  (void)a; (void)c;
  return 0;
}
