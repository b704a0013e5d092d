from okr_service.cli import main

main()
