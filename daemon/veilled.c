/* veilled.c - main (being written). */
#include <stdio.h>
int main(void)
{
	fprintf(stderr, "veilled: not built yet\n");
	return 1;
}
