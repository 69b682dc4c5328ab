/*
 * What copying a cold 4 KiB value costs on this machine (throwaway, kept
 * for the record; BENCHMARKS.md "2026-12-05: what bounds the 4 KiB and
 * 10M rows"): 1M values of 4 KiB, 4,224 bytes apart, in one shared
 * anonymous mapping (4.2 GB, far past the caches); each op copies one
 * value, chosen at random, out to a private buffer. Variants: glibc's
 * memcpy(); every line of the value prefetched first (T0 or NTA hint);
 * a 4 x 32-byte AVX2 loop with and without the prefetches; and the first
 * line alone (the miss without the copy). Three passes of 400,000 ops.
 *
 *   gcc -O2 -o copy4k bench-results/copy4k-20261205.c
 *   taskset -c 1 ./copy4k 4096
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <time.h>
#include <immintrin.h>
#include <sys/mman.h>
static double now(void){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+t.tv_nsec*1e-9;}
__attribute__((target("avx2"))) static void avxcopy(char*d,const char*s,size_t n){
  for(size_t i=0;i<n;i+=128){ __m256i a=_mm256_loadu_si256((const void*)(s+i)),b=_mm256_loadu_si256((const void*)(s+i+32)),c=_mm256_loadu_si256((const void*)(s+i+64)),e=_mm256_loadu_si256((const void*)(s+i+96));
   _mm256_storeu_si256((void*)(d+i),a);_mm256_storeu_si256((void*)(d+i+32),b);_mm256_storeu_si256((void*)(d+i+64),c);_mm256_storeu_si256((void*)(d+i+96),e);} }
int main(int argc,char**argv){
  size_t n=1000000, sz=4096+128; size_t V=argc>1?atoi(argv[1]):4096; char*a=mmap(0,n*sz,PROT_READ|PROT_WRITE,MAP_SHARED|MAP_ANONYMOUS,-1,0);
  memset(a,1,n*sz); static char buf[8192]; uint64_t x=88172645463325252ull; unsigned long s=0;
  const char*names[]={"memcpy","pf-t0+memcpy","pf-nta+memcpy","avx2","pf-t0+avx2","pf-nta+avx2","first line only"};
  for(int rep=0;rep<3;rep++)
  for(int mode=0;mode<7;mode++){ int N=400000; double t0=now();
   for(int i=0;i<N;i++){ x^=x<<13;x^=x>>7;x^=x<<17; char*p=a+(x%n)*sz+64;
     if(mode==1||mode==4) for(size_t l=0;l<V;l+=64) __builtin_prefetch(p+l);
     if(mode==2||mode==5) for(size_t l=0;l<V;l+=64) __builtin_prefetch(p+l,0,0);
     if(mode==6){ s+=p[0]; continue;}
     if(mode<3) memcpy(buf,p,V); else avxcopy(buf,p,V);
     s+=buf[x&(V-1)]; __asm__ volatile(""::"r"(buf):"memory"); }
   printf("%-16s %6.0f ns/op\n",names[mode],(now()-t0)/N*1e9);}
  return s==42;}
