/*
 * Does this VM take back memory a process leaves idle? (throwaway, kept
 * for the record; BENCHMARKS.md "2026-12-05: what bounds the 4 KiB and
 * 10M rows"). Fills SIZE MB (anonymous, or POSIX shared memory with a
 * second argument), sleeps $SLEEP seconds if set, then reads random
 * cache lines of it in six 2-second passes, printing ns per read and the
 * process's minor faults in each pass.
 *
 *   gcc -O2 -o idle-reread bench-results/idle-reread-20261205.c
 *   ./idle-reread 1500; SLEEP=40 ./idle-reread 1500
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <time.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <fcntl.h>
#include <unistd.h>
static double now(void){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+t.tv_nsec*1e-9;}
static long flt(void){struct rusage r;getrusage(RUSAGE_SELF,&r);return r.ru_minflt;}
int main(int argc,char**argv){
  size_t sz=(size_t)atol(argv[1])<<20; int shm=argc>2; char*a;
  if(shm){int fd=shm_open("/flt-test",O_RDWR|O_CREAT,0600);ftruncate(fd,sz);a=mmap(0,sz,PROT_READ|PROT_WRITE,MAP_SHARED,fd,0);shm_unlink("/flt-test");}
  else a=mmap(0,sz,PROT_READ|PROT_WRITE,MAP_PRIVATE|MAP_ANONYMOUS,-1,0);
  memset(a,1,sz); if(getenv("SLEEP")) sleep(atoi(getenv("SLEEP"))); uint64_t x=88172645463325252ull; unsigned long s=0;
  for(int sec=0;sec<6;sec++){ long f0=flt(); double t0=now(); long n=0;
    while(now()-t0<2){ for(int i=0;i<100000;i++){x^=x<<13;x^=x>>7;x^=x<<17; s+=a[(x%(sz>>6))<<6];} n+=100000;}
    printf("%s %zu MB: %.0f ns/read, %ld faults in 2 s\n",shm?"shm":"anon",sz>>20,(now()-t0)/n*1e9,flt()-f0); fflush(stdout);}
  return s==42;}
