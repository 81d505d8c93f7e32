/* PARK / SWAP / UNPARK requests: moving memfd and SysV memory onto a file
 * crshim provides, with the program's threads parked (see park.c). */
#ifndef CRSHIM_SWAP_H
#define CRSHIM_SWAP_H

struct crs_jsonw;

void answer_park(struct crs_jsonw *w);
/* args: "PATH NRANGES START-END:OFFSET:PROT... NFDS FD..."; fd: the file */
void answer_swap(struct crs_jsonw *w, const char *args, int fd);
void answer_unpark(struct crs_jsonw *w);
/* Let the parked threads go and record the swaps done so far (UNPARK
 * without an answer: crshim went away while they were parked). */
void crs_swap_release(void);

#endif
