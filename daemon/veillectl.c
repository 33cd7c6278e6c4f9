/* veillectl.c - main (being written). */
#include <stdio.h>
int main(void)
{
	fprintf(stderr, "veillectl: not built yet\n");
	return 1;
}
