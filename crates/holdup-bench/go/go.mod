module holdupbench

go 1.22
