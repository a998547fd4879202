from memreport.cli import main

main()
